<?php
// Nextcloud test release (a test double standing in for Nextcloud's lib/base.php): NOT Nextcloud.
// Shared code of the test release: the release's version, the configuration as Nextcloud reads
// and writes it, the server checks Nextcloud makes before every command and page, the database
// and the apps. Built by tests/nextcloud_test_release/build.py; see TEST-RELEASE at the root.

declare(strict_types=1);

namespace ChatonTestRelease;

const PRODUCT_NAME = 'Nextcloud test release';
const OCC_LOG = 'chaton-test-release-occ.log';
const FAIL_UPGRADE_FLAG = 'chaton-test-release-fail-upgrade';
const TABLE_PREFIX = 'oc_';

/** An error with a hint, printed like Nextcloud's HintException. */
class HintException extends \Exception
{
    public function __construct(string $message, public readonly string $hint = '')
    {
        parent::__construct($message);
    }
}

/** What the release is: its folder and the content of its version.php. */
final class Release
{
    public static string $root = '';
    /** @var list<int> */
    public static array $version = [];
    public static string $versionString = '';
    /** @var array<string, array<string, bool>> */
    public static array $canBeUpgradedFrom = [];
    public static string $vendor = '';
    /** Whether this process is the command line (occ, cron.php from a timer). */
    public static bool $cli = false;
    /** Whether the current command changed any state (config.php, the database, the data folder). */
    public static bool $changed = false;

    public static function boot(): void
    {
        self::$root = \dirname(__DIR__);
        require_once __DIR__ . '/oc.php';
        \OC::$SERVERROOT = self::$root;
        self::$cli = \PHP_SAPI === 'cli' || \PHP_SAPI === 'phpdbg';
        [$v, $s, $from, $vendor] = (static function (string $file): array {
            $OC_Version = [];
            $OC_VersionString = '';
            $OC_VersionCanBeUpgradedFrom = [];
            $vendor = '';
            require $file;
            return [$OC_Version, $OC_VersionString, $OC_VersionCanBeUpgradedFrom, $vendor];
        })(self::$root . '/version.php');
        self::$version = array_map('intval', $v);
        self::$versionString = (string) $s;
        self::$canBeUpgradedFrom = $from;
        self::$vendor = (string) $vendor;
    }

    /** The code's version, dotted, four numbers ("30.0.0.0"), as Nextcloud's Util::getVersion. */
    public static function version(): string
    {
        return implode('.', self::$version);
    }

    public static function major(): int
    {
        return self::$version[0];
    }
}

/**
 * The system configuration, read as Nextcloud's OC\Config reads it: config.php, then every other
 * *.config.php of the folder in natural order, each one's keys overriding the previous ones; an
 * `NC_<key>` environment variable overrides a key when read. Writing rewrites config.php alone with
 * the whole merged configuration (as Nextcloud does: keys of the other files are copied into it),
 * through a temporary file and a rename.
 */
final class Config
{
    /** @var array<string, mixed> */
    private array $cache = [];
    public readonly string $dir;

    public function __construct(string $dir)
    {
        $this->dir = $dir;
        $this->read();
    }

    /** The config folder: NEXTCLOUD_CONFIG_DIR when set, else the release's config/. Ends with '/'. */
    public static function folder(): string
    {
        $dir = getenv('NEXTCLOUD_CONFIG_DIR');
        if (\is_string($dir) && $dir !== '') {
            return rtrim($dir, '/') . '/';
        }
        return Release::$root . '/config/';
    }

    public function file(): string
    {
        return $this->dir . 'config.php';
    }

    private function read(): void
    {
        $files = [$this->file()];
        $extra = glob($this->dir . '*.config.php');
        if (\is_array($extra)) {
            natsort($extra);
            $files = array_merge($files, $extra);
        }
        foreach ($files as $file) {
            if (\function_exists('opcache_invalidate')) {
                @opcache_invalidate($file, false);
            }
            $handle = @fopen($file, 'r');
            if ($handle === false) {
                if ($file === $this->file()) {
                    continue; // a new installation has none yet
                }
                http_response_code(500);
                exit(sprintf('FATAL: Could not open the config file %s', $file) . "\n");
            }
            flock($handle, LOCK_SH);
            try {
                $CONFIG = (static function (string $__file): mixed {
                    include $__file;
                    return $CONFIG ?? null;
                })($file);
            } finally {
                flock($handle, LOCK_UN);
                fclose($handle);
            }
            if (\is_array($CONFIG)) {
                $this->cache = array_merge($this->cache, $CONFIG);
            }
        }
    }

    public function get(string $key, mixed $default = null): mixed
    {
        $env = getenv('NC_' . $key);
        if ($env !== false) {
            return $env;
        }
        return $this->cache[$key] ?? $default;
    }

    public function getBool(string $key, bool $default = false): bool
    {
        $value = $this->get($key, $default);
        if (\is_string($value)) {
            return \in_array(strtolower($value), ['1', 'true', 'yes', 'on'], true);
        }
        return (bool) $value;
    }

    public function has(string $key): bool
    {
        return $this->get($key) !== null;
    }

    /** @param array<string, mixed> $values null deletes a key */
    public function setValues(array $values): void
    {
        $changed = false;
        foreach ($values as $key => $value) {
            if ($value === null) {
                if (\array_key_exists($key, $this->cache)) {
                    unset($this->cache[$key]);
                    $changed = true;
                }
            } elseif (!\array_key_exists($key, $this->cache) || $this->cache[$key] !== $value) {
                $this->cache[$key] = $value;
                $changed = true;
            }
        }
        if ($changed) {
            $this->write();
        }
    }

    public function set(string $key, mixed $value): void
    {
        $this->setValues([$key => $value]);
    }

    private function write(): void
    {
        if ($this->getBool('config_is_read_only')) {
            throw new HintException(
                'Config is set to be read-only via option "config_is_read_only".',
                'Unset "config_is_read_only" to allow changes to the config file.'
            );
        }
        $content = "<?php\n\$CONFIG = " . var_export($this->cache, true) . ";\n";
        $target = $this->file();
        if (is_writable($this->dir)) {
            // A name that the *.config.php pattern never matches, even if left behind.
            $temp = $this->dir . '.config.php.' . bin2hex(random_bytes(6)) . '.tmp';
            if (file_put_contents($temp, $content, LOCK_EX) !== \strlen($content)) {
                @unlink($temp);
                throw new HintException("Can't write into config directory!", 'This can usually be fixed by giving the webserver write access to the config directory.');
            }
            chmod($temp, 0640);
            $group = @filegroup($target);
            if ($group !== false) {
                @chgrp($temp, $group);
            }
            if (!rename($temp, $target)) {
                @unlink($temp);
                throw new HintException("Can't write into config directory!", 'This can usually be fixed by giving the webserver write access to the config directory.');
            }
        } else {
            // Nextcloud's own way: in place, under an exclusive lock.
            $handle = @fopen($target, 'c');
            if ($handle === false) {
                throw new HintException("Can't write into config directory!", 'This can usually be fixed by giving the webserver write access to the config directory.');
            }
            flock($handle, LOCK_EX);
            ftruncate($handle, 0);
            fwrite($handle, $content);
            fflush($handle);
            flock($handle, LOCK_UN);
            fclose($handle);
            @chmod($target, 0640);
        }
        if (\function_exists('opcache_invalidate')) {
            @opcache_invalidate($target, true);
        }
        Release::$changed = true;
    }

    /** A value under nested keys ("redis", "host"), or null. */
    public function getPath(array $keys): mixed
    {
        $value = $this->get((string) array_shift($keys));
        foreach ($keys as $key) {
            if (!\is_array($value) || !\array_key_exists($key, $value)) {
                return null;
            }
            $value = $value[$key];
        }
        return $value;
    }
}

/** The instance's state as Nextcloud's status.php and `occ status` report it. */
final class Server
{
    public static function installed(Config $config): bool
    {
        return $config->getBool('installed');
    }

    /**
     * Whether the code is newer than the installed version (OC_Util::needUpgrade); a downgrade is
     * refused for every command and page, as Nextcloud does.
     */
    public static function needUpgrade(Config $config): bool
    {
        if (!self::installed($config)) {
            return false;
        }
        $installed = (string) $config->get('version', '0.0.0');
        $diff = version_compare(Release::version(), $installed);
        if ($diff > 0) {
            return true;
        }
        if ($diff < 0 && !$config->getBool('debug')) {
            throw new HintException('Downgrading is not supported and is likely to cause unpredictable issues (from ' . $installed . ' to ' . Release::version() . ')');
        }
        return false;
    }

    /** @return array<string, mixed> the keys in the order of `occ status` */
    public static function status(Config $config): array
    {
        return [
            'installed' => self::installed($config),
            'version' => Release::version(),
            'versionstring' => Release::$versionString,
            'edition' => '',
            'maintenance' => $config->getBool('maintenance'),
            'needsDbUpgrade' => self::needUpgrade($config),
            'productname' => PRODUCT_NAME,
            'extendedSupport' => false,
        ];
    }

    public static function dataDirectory(Config $config): string
    {
        return (string) $config->get('datadirectory', Release::$root . '/data');
    }

    /**
     * The checks Nextcloud's OC_Util::checkServer makes before every command (except `check`) and
     * every page: a list of ['error' => ..., 'hint' => ...].
     *
     * @return list<array{error: string, hint: string}>
     */
    public static function check(Config $config): array
    {
        $errors = [];
        $data = self::dataDirectory($config);
        if (self::installed($config) && !self::needUpgrade($config)) {
            if ($data === '' || $data[0] !== '/') {
                $errors[] = ['error' => 'Your data directory must be an absolute path.', 'hint' => 'Check the value of "datadirectory" in your configuration.'];
            }
            if (!file_exists($data . '/.ocdata')) {
                $errors[] = ['error' => 'Your data directory is invalid.', 'hint' => 'Ensure there is a file called ".ocdata" in the root of the data directory.'];
            }
        }
        $drivers = array_intersect(['sqlite', 'mysql', 'pgsql'], class_exists(\PDO::class) ? \PDO::getAvailableDrivers() : []);
        if ($drivers === []) {
            $errors[] = ['error' => 'No database drivers (sqlite, mysql, or postgresql) installed.', 'hint' => ''];
        }
        if (!$config->getBool('config_is_read_only') && (!is_writable($config->dir) || !is_readable($config->dir))) {
            $errors[] = [
                'error' => 'Cannot write into "config" directory.',
                'hint' => 'This can usually be fixed by giving the web server write access to the config directory. '
                    . 'Or, if you prefer to keep config.php file read only, set the option "config_is_read_only" to true in it.',
            ];
        }
        if ($config->getBool('appstoreenabled', true)) {
            $install = Apps::installPath($config);
            if ($install === null || !is_writable($install) || !is_readable($install)) {
                $errors[] = [
                    'error' => 'Cannot write into "apps" directory.',
                    'hint' => 'This can usually be fixed by giving the web server write access to the apps directory or disabling the App Store in the config file.',
                ];
            }
        }
        if (self::installed($config)) {
            if (!is_dir($data)) {
                if (@mkdir($data)) {
                    Release::$changed = true;
                    $errors = array_merge($errors, self::checkDataPermissions($config, $data));
                } else {
                    $errors[] = ['error' => 'Cannot create "data" directory.', 'hint' => 'This can usually be fixed by giving the web server write access to the root directory.'];
                }
            } elseif (!is_writable($data) || !is_readable($data)) {
                $errors[] = ['error' => 'Your data directory is not writable.', 'hint' => 'Permissions can usually be fixed by giving the web server write access to the root directory.'];
            } else {
                $errors = array_merge($errors, self::checkDataPermissions($config, $data));
            }
        }
        $dependencies = [
            'classes' => ['ZipArchive' => 'zip', 'DOMDocument' => 'dom', 'XMLWriter' => 'XMLWriter', 'XMLReader' => 'XMLReader'],
            'functions' => [
                'xml_parser_create' => 'libxml', 'mb_strcut' => 'mbstring', 'ctype_digit' => 'ctype',
                'json_encode' => 'JSON', 'gd_info' => 'GD', 'gzencode' => 'zlib',
                'simplexml_load_string' => 'SimpleXML', 'hash' => 'HASH Message Digest Framework',
                'curl_init' => 'cURL', 'openssl_verify' => 'OpenSSL',
            ],
        ];
        $missing = [];
        foreach ($dependencies['classes'] as $class => $module) {
            if (!class_exists($class)) {
                $missing[] = $module;
            }
        }
        foreach ($dependencies['functions'] as $function => $module) {
            if (!\function_exists($function)) {
                $missing[] = $module;
            }
        }
        if (!\defined('PDO::ATTR_DRIVER_NAME')) {
            $missing[] = 'PDO';
        }
        foreach ($missing as $module) {
            $errors[] = ['error' => sprintf('PHP module %s not installed.', $module), 'hint' => 'Please ask your server administrator to install the module.'];
        }
        if (strtolower((string) ini_get('default_charset')) !== 'utf-8') {
            $errors[] = ['error' => "PHP setting \"default_charset\" is not set to \"'UTF-8'\".", 'hint' => 'Adjusting this setting in php.ini will make Nextcloud run again'];
        }
        if (!Release::$cli && $missing !== []) {
            $errors[] = ['error' => 'PHP modules have been installed, but they are still listed as missing?', 'hint' => 'Please ask your server administrator to restart the web server.'];
        }
        if (!Release::$cli && self::installed($config)) {
            foreach (['secret', 'instanceid', 'passwordsalt'] as $required) {
                if ((string) $config->get($required, '') === '') {
                    $errors[] = ['error' => sprintf('The required %s config variable is not configured in the config.php file.', $required), 'hint' => 'Please ask your server administrator to check the Nextcloud configuration.'];
                }
            }
        }
        return $errors;
    }

    /** @return list<array{error: string, hint: string}> */
    private static function checkDataPermissions(Config $config, string $data): array
    {
        if (!$config->getBool('check_data_directory_permissions', true)) {
            return [];
        }
        $perms = substr(decoct((int) @fileperms($data)), -3);
        if (substr($perms, -1) !== '0') {
            // Nextcloud tightens a data folder other users can read, on every run.
            @chmod($data, 0770);
            Release::$changed = true;
            clearstatcache();
            $perms = substr(decoct((int) @fileperms($data)), -3);
            if ($perms[2] !== '0') {
                return [['error' => 'Your data directory is readable by other people.', 'hint' => 'Please change the permissions to 0770 so that the directory cannot be listed by other people.']];
            }
        }
        return [];
    }

    /**
     * The memory caches the configuration names must be available, as Nextcloud's
     * OC\Memcache\Factory demands (the command line falls back from a missing APCu).
     */
    public static function checkMemcache(Config $config): void
    {
        $local = ltrim((string) ($config->get('memcache.local') ?: 'OC\\Memcache\\NullCache'), '\\');
        $distributed = ltrim((string) ($config->get('memcache.distributed') ?: $local), '\\');
        foreach (['local' => $local, 'distributed' => $distributed] as $use => $class) {
            if (!self::cacheAvailable($class)) {
                if (Release::$cli && $class === 'OC\\Memcache\\APCu') {
                    continue;
                }
                throw new HintException(sprintf('Memcache %s not available for %s cache', $class, $use), 'Is the matching PHP module installed and enabled?');
            }
        }
    }

    private static function cacheAvailable(string $class): bool
    {
        return match ($class) {
            'OC\\Memcache\\NullCache', 'OC\\Memcache\\ArrayCache' => true,
            'OC\\Memcache\\Redis' => \extension_loaded('redis') && version_compare((string) phpversion('redis'), '4.0.0', '>='),
            'OC\\Memcache\\Memcached' => \extension_loaded('memcached'),
            'OC\\Memcache\\APCu' => \extension_loaded('apcu') && (bool) ini_get('apc.enabled') && (!Release::$cli || (bool) ini_get('apc.enable_cli')),
            default => false,
        };
    }
}

/** The database: PostgreSQL through PDO, with the tables the test release keeps. */
final class Db
{
    /** @return array{host: string, port: ?int} Nextcloud's split of "host[:port]" */
    public static function splitHost(string $host): array
    {
        $port = null;
        if (preg_match('/^(.*):([^\]:]+)$/', $host, $m) === 1 && is_numeric($m[2])) {
            $host = $m[1];
            $port = (int) $m[2];
        }
        return ['host' => $host === '' ? 'localhost' : $host, 'port' => $port];
    }

    public static function connect(string $host, string $name, string $user, ?string $password): \PDO
    {
        $split = self::splitHost($host);
        $dsn = 'pgsql:host=' . $split['host'] . ($split['port'] !== null ? ';port=' . $split['port'] : '') . ';dbname=' . $name;
        return new \PDO($dsn, $user, $password ?? '', [
            \PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION,
            \PDO::ATTR_DEFAULT_FETCH_MODE => \PDO::FETCH_ASSOC,
            \PDO::ATTR_TIMEOUT => 10,
        ]);
    }

    public static function fromConfig(Config $config): \PDO
    {
        if ($config->get('dbtype', 'sqlite') !== 'pgsql') {
            throw new \RuntimeException('The test release supports PostgreSQL only (dbtype pgsql), not ' . var_export($config->get('dbtype', 'sqlite'), true));
        }
        $port = (string) $config->get('dbport', '');
        $host = (string) $config->get('dbhost', 'localhost');
        if ($port !== '' && !str_contains($host, ':')) {
            $host .= ':' . $port;
        }
        try {
            return self::connect($host, (string) $config->get('dbname', 'owncloud'), (string) $config->get('dbuser', ''), (string) $config->get('dbpassword', ''));
        } catch (\PDOException $e) {
            throw new \RuntimeException('Failed to connect to the database: ' . self::hide($e->getMessage(), (string) $config->get('dbpassword', '')), 0);
        }
    }

    /** A message with a password masked, should a driver ever repeat it. */
    public static function hide(string $message, string $password): string
    {
        return $password === '' ? $message : str_replace($password, '********', $message);
    }

    /** Runs a statement that changes data; records a change when it touched anything. */
    public static function write(\PDO $db, string $sql, array $params = []): int
    {
        $statement = $db->prepare($sql);
        $statement->execute($params);
        $count = $statement->rowCount();
        if ($count > 0 || preg_match('/^\s*(CREATE|ALTER|DROP)\b/i', $sql) === 1) {
            Release::$changed = true;
        }
        return $count;
    }

    /** @return list<array<string, mixed>> */
    public static function rows(\PDO $db, string $sql, array $params = []): array
    {
        $statement = $db->prepare($sql);
        $statement->execute($params);
        return $statement->fetchAll();
    }

    public static function value(\PDO $db, string $sql, array $params = []): mixed
    {
        $statement = $db->prepare($sql);
        $statement->execute($params);
        return $statement->fetchColumn();
    }

    /** The tables an installation creates. */
    public static function createSchema(\PDO $db): void
    {
        $p = TABLE_PREFIX;
        $statements = [
            "CREATE TABLE {$p}users (uid VARCHAR(64) PRIMARY KEY, displayname VARCHAR(64), email VARCHAR(255), password_hash VARCHAR(255) NOT NULL, quota VARCHAR(64), enabled BOOLEAN NOT NULL DEFAULT TRUE)",
            "CREATE TABLE {$p}groups (gid VARCHAR(64) PRIMARY KEY, displayname VARCHAR(255))",
            "CREATE TABLE {$p}group_user (gid VARCHAR(64) NOT NULL REFERENCES {$p}groups(gid) ON DELETE CASCADE, uid VARCHAR(64) NOT NULL REFERENCES {$p}users(uid) ON DELETE CASCADE, PRIMARY KEY (gid, uid))",
            "CREATE TABLE {$p}appconfig (appid VARCHAR(32) NOT NULL, configkey VARCHAR(64) NOT NULL, configvalue TEXT, PRIMARY KEY (appid, configkey))",
            "CREATE TABLE {$p}preferences (userid VARCHAR(64) NOT NULL, appid VARCHAR(32) NOT NULL, configkey VARCHAR(64) NOT NULL, configvalue TEXT, PRIMARY KEY (userid, appid, configkey))",
            "CREATE TABLE {$p}chaton_schema (version VARCHAR(32) PRIMARY KEY, applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now())",
        ];
        foreach ($statements as $sql) {
            self::write($db, $sql);
        }
    }

    public static function appValue(\PDO $db, string $app, string $key): ?string
    {
        $value = self::value($db, 'SELECT configvalue FROM ' . TABLE_PREFIX . 'appconfig WHERE appid = ? AND configkey = ?', [$app, $key]);
        return $value === false ? null : (string) $value;
    }

    public static function setAppValue(\PDO $db, string $app, string $key, string $value): bool
    {
        if (self::appValue($db, $app, $key) === $value) {
            return false;
        }
        self::write(
            $db,
            'INSERT INTO ' . TABLE_PREFIX . 'appconfig (appid, configkey, configvalue) VALUES (?, ?, ?) ON CONFLICT (appid, configkey) DO UPDATE SET configvalue = EXCLUDED.configvalue',
            [$app, $key, $value]
        );
        return true;
    }

    public static function hashPassword(string $password): string
    {
        if (\defined('PASSWORD_ARGON2ID')) {
            return '3|' . password_hash($password, PASSWORD_ARGON2ID);
        }
        return '2|' . password_hash($password, PASSWORD_BCRYPT);
    }
}

/** The apps: the folders of the app roots, each with appinfo/info.xml. */
final class Apps
{
    /**
     * The app roots as Nextcloud's OC::initPaths makes them: the `apps_paths` of the
     * configuration when it has any (then the release's apps/ counts only if listed), else the
     * release's apps/ (writable).
     *
     * @return list<array{path: string, url: string, writable: bool}>
     */
    public static function roots(Config $config): array
    {
        $roots = [];
        $paths = $config->get('apps_paths', []);
        if (\is_array($paths) && $paths !== []) {
            foreach ($paths as $entry) {
                if (\is_array($entry) && isset($entry['path'], $entry['url'])) {
                    $roots[] = ['path' => rtrim((string) $entry['path'], '/'), 'url' => rtrim((string) $entry['url'], '/'), 'writable' => ($entry['writable'] ?? false) === true];
                }
            }
        } elseif (file_exists(Release::$root . '/apps')) {
            $roots[] = ['path' => Release::$root . '/apps', 'url' => '/apps', 'writable' => true];
        }
        if ($roots === []) {
            throw new \RuntimeException('apps directory not found! Please put the Nextcloud apps folder in the Nextcloud folder. You can also configure the location in the config.php file.');
        }
        return $roots;
    }

    public static function installPath(Config $config): ?string
    {
        foreach (self::roots($config) as $root) {
            if ($root['writable']) {
                return $root['path'];
            }
        }
        return null;
    }

    /**
     * Every app found, first root wins: id => ['version', 'name', 'default_enable', 'path'].
     *
     * @return array<string, array{version: string, name: string, default_enable: bool, path: string}>
     */
    public static function all(Config $config): array
    {
        $apps = [];
        foreach (self::roots($config) as $root) {
            $infos = glob($root['path'] . '/*/appinfo/info.xml') ?: [];
            sort($infos);
            foreach ($infos as $file) {
                $xml = (string) file_get_contents($file);
                $id = self::tag($xml, 'id') ?? basename(\dirname($file, 2));
                if (isset($apps[$id])) {
                    continue;
                }
                $apps[$id] = [
                    'version' => self::tag($xml, 'version') ?? '0.0.0',
                    'name' => self::tag($xml, 'name') ?? $id,
                    'default_enable' => preg_match('#<default_enable\s*/>|<default_enable>#', $xml) === 1,
                    'path' => \dirname($file, 2),
                ];
            }
        }
        ksort($apps);
        return $apps;
    }

    private static function tag(string $xml, string $tag): ?string
    {
        if (preg_match('#<' . $tag . '>\s*([^<]*?)\s*</' . $tag . '>#', $xml, $m) === 1) {
            return html_entity_decode($m[1], ENT_QUOTES | ENT_XML1);
        }
        return null;
    }

    /** @return list<string> the apps that cannot be disabled (core/shipped.json's alwaysEnabled) */
    public static function alwaysEnabled(): array
    {
        $shipped = json_decode((string) @file_get_contents(Release::$root . '/core/shipped.json'), true);
        return \is_array($shipped) ? array_values($shipped['alwaysEnabled'] ?? []) : [];
    }

    public static function isEnabled(\PDO $db, string $app): bool
    {
        if (\in_array($app, self::alwaysEnabled(), true)) {
            return true;
        }
        $value = Db::appValue($db, $app, 'enabled');
        return $value !== null && $value !== 'no';
    }

    /** @param array{version: string} $info */
    public static function enable(\PDO $db, string $app, array $info): void
    {
        Db::setAppValue($db, $app, 'enabled', 'yes');
        Db::setAppValue($db, $app, 'installed_version', $info['version']);
    }
}

/** Shared helpers for users and groups. */
final class Accounts
{
    /** Nextcloud's checks on a new account's name (OC\User\Manager::validateUserId). */
    public static function validateUid(string $uid): ?string
    {
        if (preg_match('/[^a-zA-Z0-9 _.@\-\']/', $uid) === 1) {
            return 'Only the following characters are allowed in an Login: "a-z", "A-Z", "0-9", spaces and "_.@-\'"';
        }
        if (trim($uid) === '') {
            return 'A valid Login must be provided';
        }
        if (trim($uid) !== $uid) {
            return 'Login contains whitespace at the beginning or at the end';
        }
        if ($uid === '.' || $uid === '..') {
            return 'Login must not consist of dots only';
        }
        if (\strlen($uid) > 64) {
            return 'Login is too long';
        }
        return null;
    }

    /** @return array<string, mixed>|null */
    public static function user(\PDO $db, string $uid): ?array
    {
        $rows = Db::rows($db, 'SELECT uid, displayname, email, quota, enabled FROM ' . TABLE_PREFIX . 'users WHERE uid = ?', [$uid]);
        return $rows[0] ?? null;
    }

    public static function groupExists(\PDO $db, string $gid): bool
    {
        return Db::value($db, 'SELECT 1 FROM ' . TABLE_PREFIX . 'groups WHERE gid = ?', [$gid]) !== false;
    }

    public static function createGroup(\PDO $db, string $gid): bool
    {
        return Db::write($db, 'INSERT INTO ' . TABLE_PREFIX . 'groups (gid, displayname) VALUES (?, ?) ON CONFLICT (gid) DO NOTHING', [$gid, $gid]) > 0;
    }

    public static function addToGroup(\PDO $db, string $gid, string $uid): bool
    {
        return Db::write($db, 'INSERT INTO ' . TABLE_PREFIX . 'group_user (gid, uid) VALUES (?, ?) ON CONFLICT DO NOTHING', [$gid, $uid]) > 0;
    }

    public static function createUser(\PDO $db, string $uid, string $password, ?string $displayName = null, ?string $email = null): void
    {
        Db::write(
            $db,
            'INSERT INTO ' . TABLE_PREFIX . 'users (uid, displayname, email, password_hash, quota, enabled) VALUES (?, ?, ?, ?, NULL, TRUE)',
            [$uid, $displayName, $email, Db::hashPassword($password)]
        );
    }
}

Release::boot();
