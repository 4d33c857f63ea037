# frozen_string_literal: true

# Mastodon test release (a test double standing in for a prepared Mastodon release): NOT Mastodon.
# What its programs share: its name and version, the instance's settings read from the environment
# (as Mastodon reads .env.production), the instance's PostgreSQL database (Debian's ruby-pg) and
# Redis (Debian's ruby-redis), and the record of every command it ran, kept in the instance's own
# database (table chaton_test_release_commands). See TEST-RELEASE.

require 'etc'
require 'json'
require 'digest'
require 'rbconfig'

module ChatonTestRelease
  PRODUCT_NAME = 'Mastodon test release'
  ROOT = File.expand_path('..', __dir__)
  VERSION = File.read(File.join(ROOT, 'VERSION')).strip
  MIGRATIONS = JSON.parse(File.read(File.join(ROOT, 'db', 'chaton-test-release-migrations.json')))

  # What .env.production must give every process (Mastodon refuses to start without them).
  REQUIRED_ENV = %w[
    LOCAL_DOMAIN SECRET_KEY_BASE OTP_SECRET DB_HOST DB_PORT DB_NAME DB_USER DB_PASS REDIS_URL REDIS_PASSWORD
    ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY
    ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT VAPID_PRIVATE_KEY VAPID_PUBLIC_KEY
  ].freeze

  module_function

  def missing_env
    REQUIRED_ENV.reject { |name| ENV.fetch(name, '').length.positive? }
  end

  def unix_user
    Etc.getpwuid(Process.euid).name
  end

  # The Ruby that runs this program: a bundled runtime's test double names itself and its version
  # (CHATON_TEST_RELEASE_RUBY, "PATH VERSION"), else the interpreter's path and version.
  def ruby_runtime
    ENV.fetch('CHATON_TEST_RELEASE_RUBY', "#{RbConfig.ruby} #{RUBY_VERSION}")
  end

  def database
    require 'pg'
    PG.connect(
      host: ENV.fetch('DB_HOST', '127.0.0.1'), port: ENV.fetch('DB_PORT', '5432').to_i,
      dbname: ENV.fetch('DB_NAME'), user: ENV.fetch('DB_USER'), password: ENV.fetch('DB_PASS'),
      connect_timeout: 5
    )
  end

  def redis
    require 'redis'
    password = ENV.fetch('REDIS_PASSWORD', '')
    Redis.new(url: ENV.fetch('REDIS_URL'), password: password.empty? ? nil : password, timeout: 5)
  end

  # Where Redis is: the socket of REDIS_URL=unix:///path (the password is REDIS_PASSWORD, as for
  # Mastodon's streaming server), else the URL without its password.
  def redis_path
    url = ENV.fetch('REDIS_URL', '')
    url.start_with?('unix://') ? url.delete_prefix('unix://') : url.sub(/:[^:@]*@/, ':***@')
  end

  def ensure_commands_table(db)
    db.exec(<<~SQL)
      CREATE TABLE IF NOT EXISTS chaton_test_release_commands (
        id bigserial PRIMARY KEY,
        program text NOT NULL,
        argv jsonb NOT NULL,
        status integer NOT NULL,
        changed boolean NOT NULL,
        release text NOT NULL,
        unix_user text NOT NULL,
        runtime text NOT NULL,
        details jsonb NOT NULL DEFAULT '{}',
        ran_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )
    SQL
  end

  # One row per run: the program, its arguments, its exit status, whether it changed anything,
  # and what else a test may want to know (details).
  def record(db, program, argv, status, changed, details = {})
    ensure_commands_table(db)
    db.exec_params(
      'INSERT INTO chaton_test_release_commands (program, argv, status, changed, release, unix_user, runtime, details) ' \
      'VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
      [program, JSON.generate(argv), status, changed, VERSION, unix_user, ruby_runtime, JSON.generate(details)]
    )
  end

  def switch_on?(db, name)
    db.exec(<<~SQL)
      CREATE TABLE IF NOT EXISTS chaton_test_release_switches (name text PRIMARY KEY)
    SQL
    db.exec_params('SELECT 1 FROM chaton_test_release_switches WHERE name = $1', [name]).ntuples.positive?
  end

  def table_exists?(db, name)
    db.exec_params('SELECT to_regclass($1) IS NOT NULL AS present', ["public.#{name}"])[0]['present'] == 't'
  end

  def applied_migrations(db)
    return [] unless table_exists?(db, 'schema_migrations')

    db.exec('SELECT version FROM schema_migrations').map { |row| row['version'] }
  end

  def fingerprint(value)
    Digest::SHA256.hexdigest(value.to_s)
  end
end
