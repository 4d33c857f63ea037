<?php
// Nextcloud test release (a test double standing in for Nextcloud's console.php and its `occ`
// commands): NOT Nextcloud. Symfony-console-like syntax, Nextcloud's messages and exit codes for the
// commands a deployment uses; every run is recorded as one JSON line (see TEST-RELEASE).

declare(strict_types=1);

namespace ChatonTestRelease;

require_once __DIR__ . '/base.php';

/** A usage error, printed like Symfony's console errors (on stderr, exit 1). */
final class UsageError extends \Exception
{
}

final class Console
{
    private Config $config;
    /** @var list<string> */
    private array $tokens;
    private bool $interactive = true;
    private bool $quiet = false;
    private bool $noWarnings = false;
    private ?\PDO $db = null;
    /** @var array<string, mixed> the options of the running command */
    private array $opts = [];
    /** @var array<string, mixed> the arguments of the running command */
    private array $args = [];

    /** Global options of every command: name => [short, takes a value]. */
    private const GLOBAL_OPTIONS = [
        'help' => ['h', false], 'quiet' => ['q', false], 'version' => ['V', false],
        'ansi' => [null, false], 'no-ansi' => [null, false], 'no-interaction' => ['n', false],
        'verbose' => ['v', false], 'no-warnings' => [null, false],
    ];

    /** Option values that are never recorded in the log. */
    private const SECRET_OPTIONS = ['database-pass', 'admin-pass', 'password'];

    /** @param list<string> $argv */
    public static function main(array $argv): int
    {
        if (!Release::$cli) {
            echo "This script can be run from the command line only\n";
            return 1;
        }
        $console = new self(array_values(\array_slice($argv, 1)));
        return $console->run();
    }

    /** @param list<string> $tokens */
    private function __construct(array $tokens)
    {
        $this->tokens = $tokens;
    }

    private function run(): int
    {
        $dir = Config::folder();
        $file = $dir . 'config.php';
        if (!file_exists($file) && @touch($file)) {
            Release::$changed = true; // Nextcloud's checkConfig creates an empty config.php
        }
        $this->config = new Config($dir);
        $rc = 1;
        $owner = false;
        try {
            if (!is_writable($file) && (!$this->config->getBool('config_is_read_only') || Server::needUpgrade($this->config))) {
                echo "Cannot write into \"config\" directory!\n"
                    . "This can usually be fixed by giving the web server write access to the config directory.\n\n"
                    . "But, if you prefer to keep config.php file read only, set the option \"config_is_read_only\" to true in it.\n";
                $owner = posix_getuid() === @fileowner($file);
                return $rc = 1;
            }
            $uid = posix_getuid();
            $configUid = @fileowner($file);
            if ($uid !== $configUid) {
                echo "Console has to be executed with the user that owns the file config/config.php\n"
                    . 'Current user id: ' . $uid . "\n"
                    . 'Owner id of config.php: ' . ($configUid === false ? '' : $configUid) . "\n"
                    . "Try adding 'sudo -u #" . ($configUid === false ? '' : $configUid) . "' to the beginning of the command (without the single quotes)\n";
                return $rc = 1;
            }
            $owner = true;
            $rc = $this->dispatch();
        } catch (UsageError $e) {
            $this->err('');
            $this->err('  ' . $e->getMessage() . '  ');
            $this->err('');
            $rc = 1;
        } catch (HintException $e) {
            echo "An unhandled exception has been thrown:\n";
            echo 'OCP\\HintException: [0]: ' . $e->getMessage() . ($e->hint !== '' ? ' (' . $e->hint . ')' : '') . "\n";
            $rc = 1;
        } catch (\Throwable $e) {
            echo "An unhandled exception has been thrown:\n";
            echo $e::class . ': ' . $this->hidePasswords($e->getMessage()) . "\n";
            $rc = 1;
        } finally {
            if ($this->db !== null && $this->db->inTransaction()) {
                $this->db->rollBack();
            }
            $this->record($rc, $owner);
        }
        return $rc;
    }

    // --- recording -------------------------------------------------------------------------

    /** Appends the run to the log: in the data folder once installed, else in the config folder. */
    private function record(int $rc, bool $owner): void
    {
        $data = Server::dataDirectory($this->config);
        $folder = Server::installed($this->config) && is_dir($data) ? rtrim($data, '/') . '/' : $this->config->dir;
        $log = $folder . OCC_LOG;
        if (!$owner && !file_exists($log)) {
            return; // never leave a log file the instance's user could not append to
        }
        $user = posix_getpwuid(posix_geteuid());
        $line = json_encode([
            'time' => (new \DateTimeImmutable('now', new \DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.uP'),
            'user' => \is_array($user) ? $user['name'] : (string) posix_geteuid(),
            'argv' => $this->redactedArgv(),
            'changed' => Release::$changed,
            'rc' => $rc,
        ], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE);
        $new = !file_exists($log);
        if (@file_put_contents($log, $line . "\n", FILE_APPEND | LOCK_EX) !== false && $new) {
            @chmod($log, 0640);
            if (posix_geteuid() === 0) {
                // root ran it: the file stays the instance's, as its folder is
                @chown($log, (int) fileowner($folder));
                @chgrp($log, (int) filegroup($folder));
            }
        }
    }

    /** @return list<string> the command line with the value of any password option masked */
    private function redactedArgv(): array
    {
        $out = [];
        $maskNext = false;
        $command = null;
        foreach ($this->tokens as $token) {
            if ($maskNext) {
                $out[] = '********';
                $maskNext = false;
                continue;
            }
            if ($command === null && $token !== '' && $token[0] !== '-') {
                $command = $token;
            }
            if (preg_match('/^--([a-z-]+)(=(.*))?$/s', $token, $m) === 1 && $this->isSecretOption($m[1], $command)) {
                if (isset($m[2]) && $m[2] !== '') {
                    $out[] = '--' . $m[1] . '=********';
                } else {
                    $out[] = $token;
                    $maskNext = true;
                }
                continue;
            }
            $out[] = $token;
        }
        return $out;
    }

    private function isSecretOption(string $option, ?string $command): bool
    {
        if (\in_array($option, self::SECRET_OPTIONS, true)) {
            return true;
        }
        if ($option === 'value' && \in_array($command, ['config:system:set', 'config:app:set'], true)) {
            $names = implode(' ', array_filter($this->tokens, static fn (string $t): bool => $t !== '' && $t[0] !== '-'));
            return preg_match('/pass|secret|token|salt/i', $names) === 1;
        }
        return false;
    }

    private function hidePasswords(string $message): string
    {
        $password = (string) $this->config->get('dbpassword', '');
        return Db::hide($message, $password);
    }

    // --- output ----------------------------------------------------------------------------

    private function out(string $line = ''): void
    {
        if (!$this->quiet) {
            fwrite(STDOUT, $line . "\n");
        }
    }

    private function err(string $line): void
    {
        if (!$this->quiet) {
            fwrite(STDERR, $line . "\n");
        }
    }

    private function warn(string $line): void
    {
        if (!$this->noWarnings) {
            $this->err($line);
        }
    }

    /** Nextcloud's writeMixedInOutputFormat: json, json_pretty or plain. */
    private function outMixed(mixed $value): void
    {
        $format = (string) ($this->opts['output'] ?? 'plain');
        if ($format === 'json') {
            $this->out((string) json_encode($value, JSON_UNESCAPED_SLASHES));
        } elseif ($format === 'json_pretty') {
            $this->out((string) json_encode($value, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES));
        } elseif (\is_array($value)) {
            $this->outPlain($value, '');
        } else {
            $this->out(self::scalar($value));
        }
    }

    /** @param array<mixed> $items */
    private function outPlain(array $items, string $prefix): void
    {
        foreach ($items as $key => $item) {
            if (\is_array($item)) {
                $this->out($prefix . '  - ' . $key . ':');
                $this->outPlain($item, $prefix . '  ');
            } else {
                $this->out($prefix . '  - ' . $key . ': ' . self::scalar($item));
            }
        }
    }

    private static function scalar(mixed $value): string
    {
        return match (true) {
            $value === true => 'true',
            $value === false => 'false',
            $value === null => '',
            default => (string) $value,
        };
    }

    /** A hidden question answered on standard input, as Symfony's QuestionHelper asks it. */
    private function ask(string $question): ?string
    {
        if (!$this->interactive) {
            return null;
        }
        if (!$this->quiet) {
            fwrite(STDOUT, $question . ' ');
        }
        $line = fgets(STDIN, 4096);
        if ($line === false) {
            throw new UsageError('Aborted.');
        }
        $this->out();
        return trim($line);
    }

    // --- parsing and dispatch --------------------------------------------------------------

    /**
     * The commands: name => [options, arguments, handler]. An option is name => [short, kind,
     * default] with kind none/required/array; an argument is [name, kind] with kind
     * required/optional/array.
     *
     * @return array<string, array{0: array<string, array{0: ?string, 1: string, 2?: mixed}>, 1: list<array{0: string, 1: string}>, 2: string}>
     */
    private function commands(bool $installed): array
    {
        $output = ['output' => [null, 'required', 'plain']];
        $always = [
            'status' => [$output + ['exit-code' => ['e', 'none']], [], 'status'],
            'check' => [$output, [], 'check'],
            'list' => [$output, [], 'listCommands'],
        ];
        if (!$installed) {
            return $always + [
                'maintenance:install' => [[
                    'database' => [null, 'required', 'sqlite'], 'database-name' => [null, 'required'],
                    'database-host' => [null, 'required', 'localhost'], 'database-port' => [null, 'required'],
                    'database-user' => [null, 'required'], 'database-pass' => [null, 'required'],
                    'database-table-space' => [null, 'required'], 'admin-user' => [null, 'required', 'admin'],
                    'admin-pass' => [null, 'required'], 'admin-email' => [null, 'required'],
                    'data-dir' => [null, 'required'],
                ], [], 'install'],
            ];
        }
        return $always + [
            'maintenance:mode' => [['on' => [null, 'none'], 'off' => [null, 'none']], [], 'maintenanceMode'],
            'upgrade' => [[], [], 'upgrade'],
            'user:list' => [$output + ['disabled' => ['d', 'none'], 'limit' => ['l', 'required', '500'], 'offset' => ['o', 'required', '0'], 'info' => ['i', 'none']], [], 'userList'],
            'user:info' => [$output, [['user', 'required']], 'userInfo'],
            'user:add' => [[
                'password-from-env' => [null, 'none'], 'generate-password' => [null, 'none'],
                'display-name' => [null, 'required'], 'email' => [null, 'required'], 'group' => ['g', 'array'],
            ], [['uid', 'required']], 'userAdd'],
            'user:delete' => [[], [['uid', 'required']], 'userDelete'],
            'user:disable' => [[], [['uid', 'required']], 'userDisable'],
            'user:enable' => [[], [['uid', 'required']], 'userEnable'],
            'user:resetpassword' => [['password-from-env' => [null, 'none']], [['user', 'required']], 'userResetPassword'],
            'user:setting' => [$output + [
                'default-value' => [null, 'required'], 'update-only' => [null, 'none'],
                'delete' => [null, 'none'], 'error-if-not-exists' => [null, 'none'],
            ], [['uid', 'required'], ['app', 'optional'], ['key', 'optional'], ['value', 'optional']], 'userSetting'],
            'group:list' => [$output + ['limit' => ['l', 'required', '-1'], 'offset' => ['o', 'required', '0'], 'info' => ['i', 'none']], [], 'groupList'],
            'group:add' => [['display-name' => [null, 'required']], [['groupid', 'required']], 'groupAdd'],
            'group:delete' => [[], [['groupid', 'required']], 'groupDelete'],
            'group:adduser' => [[], [['group', 'required'], ['user', 'required']], 'groupAddUser'],
            'group:removeuser' => [[], [['group', 'required'], ['user', 'required']], 'groupRemoveUser'],
            'app:list' => [$output + ['shipped' => [null, 'required']], [], 'appList'],
            'app:enable' => [['groups' => ['g', 'array'], 'force' => ['f', 'none']], [['app-id', 'array']], 'appEnable'],
            'app:install' => [['keep-disabled' => [null, 'none'], 'force' => ['f', 'none'], 'allow-unstable' => [null, 'none']], [['app-id', 'required']], 'appInstall'],
            'app:disable' => [[], [['app-id', 'array']], 'appDisable'],
            'config:app:get' => [$output + ['default-value' => [null, 'required']], [['app', 'required'], ['name', 'required']], 'configAppGet'],
            'config:app:set' => [['value' => [null, 'required'], 'update-only' => [null, 'none'], 'lazy' => [null, 'none'], 'sensitive' => [null, 'none'], 'type' => [null, 'required']], [['app', 'required'], ['name', 'required']], 'configAppSet'],
            'config:app:delete' => [['error-if-not-exists' => [null, 'none']], [['app', 'required'], ['name', 'required']], 'configAppDelete'],
            'config:system:get' => [$output + ['default-value' => [null, 'required']], [['name', 'array']], 'configSystemGet'],
            'config:system:set' => [['value' => [null, 'required'], 'type' => [null, 'required', 'string'], 'update-only' => [null, 'none']], [['name', 'array']], 'configSystemSet'],
            'config:system:delete' => [['error-if-not-exists' => [null, 'none']], [['name', 'array']], 'configSystemDelete'],
            'db:add-missing-indices' => [['dry-run' => [null, 'none']], [], 'dbAddMissingIndices'],
            'db:add-missing-columns' => [['dry-run' => [null, 'none']], [], 'dbAddMissingColumns'],
            'db:add-missing-primary-keys' => [['dry-run' => [null, 'none']], [], 'dbAddMissingPrimaryKeys'],
            'maintenance:repair' => [['include-expensive' => [null, 'none']], [], 'maintenanceRepair'],
            'background:cron' => [[], [], 'backgroundCron'],
            'background:ajax' => [[], [], 'backgroundAjax'],
            'background:webcron' => [[], [], 'backgroundWebcron'],
        ];
    }

    private function dispatch(): int
    {
        // First pass: global options and the command's name.
        $name = null;
        foreach ($this->tokens as $token) {
            if ($token === '--') {
                break;
            }
            if ($name === null && $token !== '' && $token[0] !== '-') {
                $name = $token;
            }
            if ($token === '-q' || $token === '--quiet') {
                $this->quiet = true;
            } elseif ($token === '-n' || $token === '--no-interaction') {
                $this->interactive = false;
            } elseif ($token === '--no-warnings') {
                $this->noWarnings = true;
            } elseif ($token === '-V' || $token === '--version') {
                if ($name === null) {
                    $this->out(PRODUCT_NAME . ' ' . Release::$versionString);
                    return 0;
                }
            }
        }
        // Symfony asks questions when standard input is a terminal or SHELL_INTERACTIVE is set.
        if ($this->interactive && !(\function_exists('posix_isatty') && @posix_isatty(STDIN)) && getenv('SHELL_INTERACTIVE') === false) {
            $this->interactive = false;
        }
        Server::checkMemcache($this->config);
        $installed = Server::installed($this->config);
        $command = $name ?? 'list';

        // What Nextcloud's console Application::loadCommands says before any command.
        if ($installed) {
            if (Server::needUpgrade($this->config)) {
                $this->warn('Nextcloud or one of the apps require upgrade - only a limited number of commands are available');
                $this->warn('You may use your browser or the occ upgrade command to do the upgrade');
            } elseif ($this->config->getBool('maintenance') && !\in_array($command, ['maintenance:mode', 'status'], true)) {
                $this->warn('Nextcloud is in maintenance mode, no apps are loaded.');
                $this->warn('Commands provided by apps are unavailable.');
            }
        } elseif ($command !== 'maintenance:install') {
            $this->warn('Nextcloud is not installed - only a limited number of commands are available');
        }
        if ($command !== 'check') {
            $errors = Server::check($this->config);
            if ($errors !== []) {
                foreach ($errors as $error) {
                    $this->out($error['error']);
                    $this->out($error['hint']);
                    $this->out();
                }
                throw new \Exception('Environment not properly prepared.');
            }
        }
        $commands = $this->commands($installed);
        if (!isset($commands[$command])) {
            throw new UsageError(sprintf('Command "%s" is not defined.', $command));
        }
        [$options, $arguments, $handler] = $commands[$command];
        $this->parse($command, $options, $arguments);
        if ($this->opts['help'] ?? false) {
            $this->out('Usage: occ ' . $command . ' (' . PRODUCT_NAME . ')');
            return 0;
        }
        if (isset($options['output']) && !\in_array($this->opts['output'], ['plain', 'json', 'json_pretty'], true)) {
            $this->opts['output'] = 'plain';
        }
        $rc = $this->{$handler}();
        \assert(\is_int($rc));
        return $rc;
    }

    /**
     * @param array<string, array{0: ?string, 1: string, 2?: mixed}> $spec
     * @param list<array{0: string, 1: string}> $argSpec
     */
    private function parse(string $command, array $spec, array $argSpec): void
    {
        $spec += array_map(static fn (array $g): array => [$g[0], 'none'], self::GLOBAL_OPTIONS);
        $shorts = [];
        foreach ($spec as $long => $def) {
            if ($def[0] !== null) {
                $shorts[$def[0]] = $long;
            }
        }
        $opts = [];
        foreach ($spec as $long => $def) {
            $opts[$long] = $def[1] === 'array' ? [] : ($def[1] === 'none' ? false : ($def[2] ?? null));
        }
        $given = [];
        $positional = [];
        $tokens = $this->tokens;
        $endOfOptions = false;
        $commandSeen = false;
        while ($tokens !== []) {
            $token = (string) array_shift($tokens);
            if ($endOfOptions || $token === '' || $token[0] !== '-' || $token === '-') {
                if (!$commandSeen) {
                    $commandSeen = true; // the command's name
                } else {
                    $positional[] = $token;
                }
                continue;
            }
            if ($token === '--') {
                $endOfOptions = true;
                continue;
            }
            $value = null;
            if (str_starts_with($token, '--')) {
                $long = substr($token, 2);
                if (str_contains($long, '=')) {
                    [$long, $value] = explode('=', $long, 2);
                }
                if (!isset($spec[$long])) {
                    throw new UsageError(sprintf('The "--%s" option does not exist.', $long));
                }
            } else {
                $short = $token[1];
                if (preg_match('/^-v+$/', $token) === 1) {
                    continue;
                }
                if (!isset($shorts[$short])) {
                    throw new UsageError(sprintf('The "-%s" option does not exist.', $short));
                }
                $long = $shorts[$short];
                if (\strlen($token) > 2) {
                    $value = substr($token, 2);
                    if ($value[0] === '=') {
                        $value = substr($value, 1);
                    }
                }
            }
            $kind = $spec[$long][1];
            if ($kind === 'none') {
                if ($value !== null) {
                    throw new UsageError(sprintf('The "--%s" option does not accept a value.', $long));
                }
                $opts[$long] = true;
            } else {
                if ($value === null && $tokens !== [] && ($tokens[0] === '' || $tokens[0][0] !== '-')) {
                    $value = (string) array_shift($tokens);
                }
                if ($value === null) {
                    throw new UsageError(sprintf('The "--%s" option requires a value.', $long));
                }
                if ($kind === 'array') {
                    $opts[$long][] = $value;
                } else {
                    $opts[$long] = $value;
                }
            }
            $given[$long] = true;
        }
        $args = [];
        foreach ($argSpec as [$argName, $kind]) {
            if ($kind === 'array') {
                $args[$argName] = $positional;
                $positional = [];
                if ($args[$argName] === []) {
                    throw new UsageError(sprintf('Not enough arguments (missing: "%s").', $argName));
                }
            } elseif ($positional !== []) {
                $args[$argName] = array_shift($positional);
            } elseif ($kind === 'required') {
                $missing = array_map(static fn (array $a): string => $a[0], array_filter($argSpec, static fn (array $a): bool => $a[1] === 'required' && !\array_key_exists($a[0], $args)));
                throw new UsageError(sprintf('Not enough arguments (missing: "%s").', implode(', ', $missing)));
            } else {
                $args[$argName] = null;
            }
        }
        if ($positional !== []) {
            $expected = implode('", "', array_map(static fn (array $a): string => $a[0], $argSpec));
            throw new UsageError($argSpec === []
                ? sprintf('No arguments expected for "%s" command, got "%s".', $command, $positional[0])
                : sprintf('Too many arguments to "%s" command, expected arguments "%s".', $command, $expected));
        }
        $opts['__given'] = $given;
        $this->opts = $opts;
        $this->args = $args;
    }

    private function given(string $option): bool
    {
        return isset($this->opts['__given'][$option]);
    }

    private function db(): \PDO
    {
        return $this->db ??= Db::fromConfig($this->config);
    }

    // --- commands available before installation ----------------------------------------------

    private function status(): int
    {
        $status = Server::status($this->config);
        $this->outMixed($status);
        if ($this->opts['exit-code']) {
            if ($status['maintenance']) {
                return 1;
            }
            if ($status['needsDbUpgrade']) {
                return 2;
            }
        }
        return 0;
    }

    private function check(): int
    {
        $errors = Server::check($this->config);
        foreach ($errors as $error) {
            $this->out('- ' . $error['error']);
            $this->out('  ' . $error['hint']);
        }
        return $errors === [] ? 0 : 1;
    }

    private function listCommands(): int
    {
        $this->out(PRODUCT_NAME . ' ' . Release::$versionString . ' (a test double, not Nextcloud)');
        $this->out();
        $this->out('Available commands:');
        $names = array_keys($this->commands(Server::installed($this->config)));
        sort($names);
        foreach ($names as $name) {
            $this->out('  ' . $name);
        }
        return 0;
    }

    /** `maintenance:install`, as Nextcloud's Install command and OC\Setup::install do it. */
    private function install(): int
    {
        $db = strtolower((string) $this->opts['database']);
        if ($db !== 'pgsql') {
            throw new UsageError(sprintf('Database <%s> is not supported. pgsql are supported. (The test release supports PostgreSQL only.)', $db));
        }
        $dbUser = $this->opts['database-user'];
        $dbName = $this->opts['database-name'];
        $dbHost = (string) $this->opts['database-host'];
        if ($this->opts['database-port'] !== null && $this->opts['database-port'] !== '') {
            $dbHost .= ':' . $this->opts['database-port'];
        }
        $dbPass = $this->given('database-pass') ? (string) $this->opts['database-pass'] : null;
        $adminLogin = (string) $this->opts['admin-user'];
        $adminPass = $this->opts['admin-pass'];
        $adminEmail = $this->opts['admin-email'];
        $dataDir = (string) ($this->opts['data-dir'] ?? Release::$root . '/data');
        if ($dbUser === null) {
            throw new UsageError('Database account not provided.');
        }
        if ($dbName === null) {
            throw new UsageError('Database name not provided.');
        }
        if ($dbPass === null) {
            $dbPass = $this->ask('What is the password to access the database with user <' . $dbUser . '>?');
        }
        if ($adminPass === null) {
            $adminPass = $this->ask('What is the password you like to use for the admin account <' . $adminLogin . '>?');
        }
        if ($adminEmail !== null && filter_var($adminEmail, FILTER_VALIDATE_EMAIL) === false) {
            throw new UsageError('Invalid e-mail-address <' . $adminEmail . '> for <' . $adminLogin . '>.');
        }

        $errors = [];
        if ($adminLogin === '') {
            $errors[] = ['Set an admin Login.', ''];
        }
        if ($adminPass === null || $adminPass === '') {
            $errors[] = ['Set an admin password.', ''];
            if ($dbPass === null && !$this->interactive) {
                $errors[] = ['Database password not given', 'Pass --database-pass and --admin-pass, or answer both questions on standard input with SHELL_INTERACTIVE=1 set'];
            }
        }
        if ($dbUser === '' && $dbName === '') {
            $errors[] = ['Enter the database Login and name for PostgreSQL', ''];
        } elseif ($dbUser === '') {
            $errors[] = ['Enter the database Login for PostgreSQL', ''];
        } elseif ($dbName === '') {
            $errors[] = ['Enter the database name for PostgreSQL', ''];
        }
        if ((!is_dir($dataDir) && !@mkdir($dataDir, 0770, true)) || !is_writable($dataDir)) {
            $errors[] = [sprintf('Cannot create or write into the data directory %s', $dataDir), ''];
        }
        if ($errors !== []) {
            return $this->printSetupErrors($errors);
        }
        $dbUser = (string) $dbUser;
        $dbName = (string) $dbName;
        \assert(\is_string($adminPass));

        // OC\Setup\PostgreSQL::setupDatabase: through the "postgres" database first.
        $createUser = $this->config->get('setup_create_db_user', true);
        try {
            $admin = Db::connect($dbHost, 'postgres', $dbUser, $dbPass);
        } catch (\PDOException) {
            $admin = null; // Nextcloud assumes the database is set up and goes on
        }
        if ($admin !== null) {
            if ($createUser !== false && $createUser !== 'false'
                && Db::value($admin, 'SELECT rolname FROM pg_roles WHERE rolcreaterole = TRUE AND rolname = ?', [$dbUser]) !== false) {
                return $this->printSetupErrors([[
                    'The test release does not emulate what Nextcloud does with a database account allowed to create roles',
                    'Nextcloud would create its own account "oc_' . strtolower($adminLogin) . '" with a random password and write that one to config.php. '
                    . 'Give an account without CREATEROLE, or set \'setup_create_db_user\' => false in the configuration.',
                ]]);
            }
            try {
                if (Db::value($admin, 'SELECT datname FROM pg_database WHERE datname = ?', [$dbName]) === false) {
                    Db::write($admin, 'CREATE DATABASE "' . str_replace('"', '""', $dbName) . '" OWNER "' . str_replace('"', '""', $dbUser) . '"');
                } else {
                    Db::write($admin, 'REVOKE ALL PRIVILEGES ON DATABASE "' . str_replace('"', '""', $dbName) . '" FROM PUBLIC');
                }
            } catch (\PDOException) {
                // Nextcloud only logs these
            }
            $admin = null;
        }
        try {
            $pdo = Db::connect($dbHost, $dbName, $dbUser, $dbPass);
        } catch (\PDOException $e) {
            $detail = Db::hide($e->getMessage(), (string) $dbPass);
            $errors = [['PostgreSQL Login and/or password not valid', 'You need to enter details of an existing account.']];
            if ($dbPass === null) {
                $errors[] = ['Database password not given', 'Pass --database-pass, or answer on standard input with SHELL_INTERACTIVE=1 set (' . $detail . ')'];
            } else {
                $errors[] = [$detail, ''];
            }
            return $this->printSetupErrors($errors);
        }

        $problem = Accounts::validateUid($adminLogin);
        if ($problem === null && trim($adminPass) === '') {
            $problem = 'A valid password must be provided';
        }
        if ($problem !== null) {
            return $this->printSetupErrors([['Error while trying to create admin account: ' . $problem, '']]);
        }
        $this->db = $pdo;
        try {
            $pdo->beginTransaction();
            Db::createSchema($pdo);
            Db::write($pdo, 'INSERT INTO ' . TABLE_PREFIX . 'chaton_schema (version) VALUES (?)', [Release::version()]);
            Accounts::createUser($pdo, $adminLogin, $adminPass, null, $adminEmail);
            Accounts::createGroup($pdo, 'admin');
            Accounts::addToGroup($pdo, 'admin', $adminLogin);
            $now = (string) time();
            Db::setAppValue($pdo, 'core', 'vendor', Release::$vendor);
            Db::setAppValue($pdo, 'core', 'installedat', $now);
            Db::setAppValue($pdo, 'core', 'lastupdatedat', $now);
            foreach (Apps::all($this->config) as $app => $info) {
                if ($info['default_enable']) {
                    Apps::enable($pdo, $app, $info);
                }
            }
            $pdo->commit();
        } catch (\PDOException $e) {
            $pdo->rollBack();
            Release::$changed = false;
            return $this->printSetupErrors([['Error while trying to initialise the database: ' . Db::hide($e->getMessage(), $dbPass), '']]);
        }

        // OC\Setup::protectDataDirectory and the marker of a data folder.
        $data = rtrim($dataDir, '/');
        file_put_contents($data . '/.ocdata', '');
        file_put_contents($data . '/.htaccess', "# Section for Apache 2.4 to 2.6\n<IfModule mod_authz_core.c>\n  Require all denied\n</IfModule>\n");
        file_put_contents($data . '/index.html', '');
        @mkdir($data . '/' . $adminLogin . '/files', 0770, true);

        $values = [];
        if (!$this->config->has('passwordsalt')) {
            $values['passwordsalt'] = self::random(30);
        }
        if (!$this->config->has('secret')) {
            $values['secret'] = self::random(48);
        }
        if (!$this->config->has('trusted_domains')) {
            $values['trusted_domains'] = ['localhost'];
        }
        $values += ['datadirectory' => $data, 'dbtype' => 'pgsql', 'version' => Release::version()];
        if (!$this->config->has('overwrite.cli.url')) {
            $values['overwrite.cli.url'] = 'http://localhost';
        }
        $values += [
            'dbname' => $dbName, 'dbhost' => $dbHost, 'dbport' => '', 'dbtableprefix' => TABLE_PREFIX,
            'dbuser' => $dbUser, 'dbpassword' => (string) $dbPass, 'installed' => true,
        ];
        if (!$this->config->has('instanceid')) {
            $values['instanceid'] = 'oc' . self::random(10, 'abcdefghijklmnopqrstuvwxyz0123456789');
        }
        $this->config->setValues($values);
        Release::$changed = true;
        $this->out('Nextcloud was successfully installed');
        return 0;
    }

    /** @param list<array{0: string, 1: string}> $errors */
    private function printSetupErrors(array $errors): int
    {
        foreach ($errors as [$error, $hint]) {
            $this->out($error);
            if ($hint !== '') {
                $this->out(' -> ' . $hint);
            }
        }
        return 1;
    }

    private static function random(int $length, string $chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'): string
    {
        $out = '';
        $max = \strlen($chars) - 1;
        for ($i = 0; $i < $length; $i++) {
            $out .= $chars[random_int(0, $max)];
        }
        return $out;
    }

    // --- maintenance and upgrade ---------------------------------------------------------------

    private function maintenanceMode(): int
    {
        $enabled = $this->config->getBool('maintenance');
        if ($this->opts['on']) {
            if ($enabled) {
                $this->out('Maintenance mode already enabled');
            } else {
                $this->config->set('maintenance', true);
                $this->out('Maintenance mode enabled');
            }
        } elseif ($this->opts['off']) {
            if (!$enabled) {
                $this->out('Maintenance mode already disabled');
            } else {
                $this->config->set('maintenance', false);
                $this->out('Maintenance mode disabled');
            }
        } else {
            $this->out($enabled ? 'Maintenance mode is currently enabled' : 'Maintenance mode is currently disabled');
        }
        return 0;
    }

    /** `upgrade`, as Nextcloud's Upgrade command and OC\Updater run it (exit 5 on failure). */
    private function upgrade(): int
    {
        if (!Server::needUpgrade($this->config)) {
            if ($this->config->getBool('maintenance')) {
                $this->out('Nextcloud is in maintenance mode');
                $this->out('Maybe an upgrade is already in process. Please check the logfile (data/nextcloud.log). If you want to re-run the upgrade procedure, remove the "maintenance mode" from config.php and call this script again.');
                return 2;
            }
            $this->out('Nextcloud is already latest version');
            return 0;
        }
        $logLevel = $this->config->get('loglevel', 2);
        $this->out('Setting log level to debug');
        $this->config->set('loglevel', 0);
        $wasMaintenance = $this->config->getBool('maintenance');
        if (!$wasMaintenance) {
            $this->config->set('maintenance', true);
            $this->out('Turned on maintenance mode');
        }
        $installed = (string) $this->config->get('version', '0.0.0');
        $current = Release::version();
        $success = true;
        try {
            $this->doUpgrade($installed, $current);
        } catch (\Exception $e) {
            $this->out($e::class . ': ' . $this->hidePasswords($e->getMessage()));
            $success = false;
        }
        $this->out($success ? 'Update successful' : 'Update failed');
        if (!$wasMaintenance && $success) {
            $this->config->set('maintenance', false);
            $this->out('Turned off maintenance mode');
        } else {
            $this->out('Maintenance mode is kept active');
        }
        $this->out('Resetting log level');
        $this->config->set('loglevel', $logLevel);
        $this->config->set('installed', true);
        return $success ? 0 : 5;
    }

    private function doUpgrade(string $installed, string $current): void
    {
        $db = $this->db();
        if (!$this->isUpgradePossible($db, $installed, $current)) {
            $allowed = implode(', ', array_keys(Release::$canBeUpgradedFrom['nextcloud'] ?? []));
            $this->out(sprintf('(%s: installed version %s, this release %s; it can be upgraded from %s only)', PRODUCT_NAME, $installed, $current, $allowed));
            throw new \Exception('Updates between multiple major versions and downgrades are unsupported.');
        }
        $data = Server::dataDirectory($this->config);
        if (!file_exists($data . '/.ocdata') && @file_put_contents($data . '/.ocdata', '') !== false) {
            Release::$changed = true;
        }
        $this->out('Updating database schema');
        $p = TABLE_PREFIX;
        if (file_exists($this->config->dir . FAIL_UPGRADE_FLAG)) {
            // A migration that fails half-way: what it did so far stays in the database.
            Db::write($db, "INSERT INTO {$p}chaton_schema (version) VALUES (?) ON CONFLICT (version) DO NOTHING", [$current]);
            Db::write($db, "ALTER TABLE {$p}users ADD COLUMN IF NOT EXISTS chaton_half_migrated BOOLEAN DEFAULT TRUE");
            throw new \Exception('Forced failure (test release): the file ' . FAIL_UPGRADE_FLAG . ' is in the config folder; the database was changed half-way');
        }
        $db->beginTransaction();
        Db::write($db, "INSERT INTO {$p}chaton_schema (version) VALUES (?) ON CONFLICT (version) DO NOTHING", [$current]);
        Db::write($db, 'CREATE TABLE IF NOT EXISTS ' . $p . 'chaton_v' . Release::major() . ' (id SERIAL PRIMARY KEY, note TEXT)');
        Db::setAppValue($db, 'core', 'vendor', Release::$vendor);
        Db::setAppValue($db, 'core', 'lastupdatedat', (string) time());
        $db->commit();
        $this->config->set('version', $current);
        $this->out('Updated database');
        foreach (Apps::all($this->config) as $app => $info) {
            $was = Db::appValue($db, $app, 'installed_version');
            if (Apps::isEnabled($db, $app) && $was !== null && $was !== $info['version']) {
                $this->out('Updating <' . $app . '> ...');
                Db::setAppValue($db, $app, 'installed_version', $info['version']);
                $this->out('Updated <' . $app . '> to ' . $info['version']);
            }
        }
    }

    /** OC\Updater::isUpgradePossible, through $OC_VersionCanBeUpgradedFrom. */
    private function isUpgradePossible(\PDO $db, string $old, string $new): bool
    {
        $parts = explode('.', $old);
        $majorMinor = $parts[0] . '.' . ($parts[1] ?? '0');
        $vendor = Db::appValue($db, 'core', 'vendor') ?? '';
        $allowed = Release::$canBeUpgradedFrom;
        if ($vendor === 'nextcloud') {
            return isset($allowed['nextcloud'][$majorMinor])
                && (version_compare($old, $new, '<=') || $this->config->getBool('debug'));
        }
        return isset($allowed[$vendor][$majorMinor]) || isset($allowed[$vendor][$old]);
    }

    // --- users -----------------------------------------------------------------------------

    private function userList(): int
    {
        $sql = 'SELECT uid, displayname FROM ' . TABLE_PREFIX . 'users' . ($this->opts['disabled'] ? ' WHERE NOT enabled' : '') . ' ORDER BY lower(uid) LIMIT ? OFFSET ?';
        $users = [];
        foreach (Db::rows($this->db(), $sql, [(int) $this->opts['limit'], (int) $this->opts['offset']]) as $row) {
            $users[(string) $row['uid']] = $this->opts['info'] ? $this->userData((string) $row['uid']) : (string) ($row['displayname'] ?? $row['uid']);
        }
        $this->outMixed($users);
        return 0;
    }

    /** @return array<string, mixed>|null */
    private function userData(string $uid): ?array
    {
        $user = Accounts::user($this->db(), $uid);
        if ($user === null) {
            return null;
        }
        $groups = array_map(static fn (array $r): string => (string) $r['gid'], Db::rows($this->db(), 'SELECT gid FROM ' . TABLE_PREFIX . 'group_user WHERE uid = ? ORDER BY gid', [$uid]));
        $data = Server::dataDirectory($this->config);
        return [
            'user_id' => $uid,
            'display_name' => (string) ($user['displayname'] ?? $uid),
            'email' => $user['email'],
            'cloud_id' => $uid . '@localhost',
            'enabled' => (bool) $user['enabled'],
            'groups' => $groups,
            'quota' => $user['quota'] ?? Db::appValue($this->db(), 'files', 'default_quota') ?? 'none',
            'last_seen' => '1970-01-01T00:00:00+00:00',
            'user_directory' => rtrim($data, '/') . '/' . $uid,
            'backend' => 'Database',
        ];
    }

    private function userInfo(): int
    {
        $data = $this->userData((string) $this->args['user']);
        if ($data === null) {
            $this->out('user not found');
            return 1;
        }
        $this->outMixed($data);
        return 0;
    }

    private function userAdd(): int
    {
        $uid = (string) $this->args['uid'];
        $db = $this->db();
        if (Accounts::user($db, $uid) !== null) {
            $this->out('The account "' . $uid . '" already exists.');
            return 1;
        }
        if ($this->opts['password-from-env']) {
            $password = (string) getenv('OC_PASS');
            if ($password === '') {
                $this->out('--password-from-env given, but OC_PASS is empty!');
                return 1;
            }
        } elseif ($this->opts['generate-password']) {
            $password = self::random(20);
        } elseif ($this->interactive) {
            $password = (string) $this->ask('Enter password:');
            $confirm = (string) $this->ask('Confirm password:');
            if ($password !== $confirm) {
                $this->out('Passwords did not match!');
                return 1;
            }
        } else {
            $this->out('Interactive input or --password-from-env or --generate-password is needed for creating an account.');
            return 1;
        }
        $email = $this->opts['email'];
        if ($email !== null && filter_var($email, FILTER_VALIDATE_EMAIL) === false) {
            $this->out('Invalid email address supplied');
            return 1;
        }
        $problem = Accounts::validateUid($uid) ?? (trim($password) === '' ? 'A valid password must be provided' : null);
        if ($problem !== null) {
            $this->out('Error while creating the account: ' . $problem); // Nextcloud: its exception's message
            return 1;
        }
        Accounts::createUser($db, $uid, $password);
        $this->out('The account "' . $uid . '" was created successfully');
        if ($this->opts['display-name'] !== null) {
            Db::write($db, 'UPDATE ' . TABLE_PREFIX . 'users SET displayname = ? WHERE uid = ?', [$this->opts['display-name'], $uid]);
            $this->out('Display name set to "' . $this->opts['display-name'] . '"');
        }
        if ($email !== null) {
            Db::write($db, 'UPDATE ' . TABLE_PREFIX . 'users SET email = ? WHERE uid = ?', [$email, $uid]);
            $this->out('Email address set to "' . $email . '"');
        }
        foreach ($this->opts['group'] as $gid) {
            if (Accounts::createGroup($db, (string) $gid)) {
                $this->out('Created group "' . $gid . '"');
            }
            Accounts::addToGroup($db, (string) $gid, $uid);
            $this->out('Account "' . $uid . '" added to group "' . $gid . '"');
        }
        return 0;
    }

    private function userDelete(): int
    {
        $uid = (string) $this->args['uid'];
        if (Accounts::user($this->db(), $uid) === null) {
            $this->out('User does not exist');
            return 1;
        }
        Db::write($this->db(), 'DELETE FROM ' . TABLE_PREFIX . 'preferences WHERE userid = ?', [$uid]);
        Db::write($this->db(), 'DELETE FROM ' . TABLE_PREFIX . 'users WHERE uid = ?', [$uid]);
        $this->out('The specified user was deleted');
        return 0;
    }

    private function userDisable(): int
    {
        return $this->setEnabled(false);
    }

    private function userEnable(): int
    {
        return $this->setEnabled(true);
    }

    private function setEnabled(bool $enabled): int
    {
        $uid = (string) $this->args['uid'];
        if (Accounts::user($this->db(), $uid) === null) {
            $this->out('User does not exist');
            return 1;
        }
        Db::write($this->db(), 'UPDATE ' . TABLE_PREFIX . 'users SET enabled = ? WHERE uid = ? AND enabled <> ?', [$enabled ? 't' : 'f', $uid, $enabled ? 't' : 'f']);
        $this->out($enabled ? 'The specified user is enabled' : 'The specified user is disabled');
        return 0;
    }

    private function userResetPassword(): int
    {
        $uid = (string) $this->args['user'];
        if (Accounts::user($this->db(), $uid) === null) {
            $this->out('User does not exist');
            return 1;
        }
        if ($this->opts['password-from-env']) {
            $password = (string) getenv('OC_PASS');
            if ($password === '') {
                $this->out('--password-from-env given, but OC_PASS is empty!');
                return 1;
            }
        } elseif ($this->interactive) {
            $password = (string) $this->ask('Enter a new password:');
            if ($password !== (string) $this->ask('Confirm the new password:')) {
                $this->out('Passwords did not match!');
                return 1;
            }
        } else {
            $this->out('Interactive input or --password-from-env is needed for entering a new password!');
            return 1;
        }
        if (trim($password) === '') {
            $this->out('Error while resetting password!');
            return 1;
        }
        Db::write($this->db(), 'UPDATE ' . TABLE_PREFIX . 'users SET password_hash = ? WHERE uid = ?', [Db::hashPassword($password), $uid]);
        $this->out('Successfully reset password for ' . $uid);
        return 0;
    }

    /** `user:setting`: quota, email and display name live in the users table, the rest in preferences. */
    private function userSetting(): int
    {
        $uid = (string) $this->args['uid'];
        $app = (string) ($this->args['app'] ?? '');
        $key = (string) ($this->args['key'] ?? '');
        $value = $this->args['value'];
        $db = $this->db();
        $user = Accounts::user($db, $uid);
        if ($user === null) {
            $this->out('The user "' . $uid . '" does not exist.');
            return 1;
        }
        $column = match ("$app/$key") {
            'files/quota' => 'quota',
            'settings/email' => 'email',
            'settings/display_name' => 'displayname',
            default => null,
        };
        if ($key === '') {
            $settings = [];
            foreach (Db::rows($db, 'SELECT appid, configkey, configvalue FROM ' . TABLE_PREFIX . 'preferences WHERE userid = ? ORDER BY appid, configkey', [$uid]) as $row) {
                $settings[(string) $row['appid']][(string) $row['configkey']] = $row['configvalue'];
            }
            if ($user['quota'] !== null) {
                $settings['files']['quota'] = $user['quota'];
            }
            if ($user['email'] !== null) {
                $settings['settings']['email'] = $user['email'];
            }
            if ($app !== '') {
                $settings = isset($settings[$app]) ? [$app => $settings[$app]] : [];
            }
            $settings['settings']['display_name'] = (string) ($user['displayname'] ?? $uid);
            $this->outMixed($settings);
            return 0;
        }
        if ($column !== null) {
            $current = $user[$column];
        } else {
            $current = Db::value($db, 'SELECT configvalue FROM ' . TABLE_PREFIX . 'preferences WHERE userid = ? AND appid = ? AND configkey = ?', [$uid, $app, $key]);
            $current = $current === false ? null : $current;
        }
        if ($value !== null) {
            if ($this->opts['update-only'] && $current === null) {
                $this->out('The setting does not exist for user "' . $uid . '".');
                return 1;
            }
            if ($column !== null) {
                Db::write($db, 'UPDATE ' . TABLE_PREFIX . "users SET $column = ? WHERE uid = ? AND $column IS DISTINCT FROM ?", [$value, $uid, $value]);
            } else {
                Db::write(
                    $db,
                    'INSERT INTO ' . TABLE_PREFIX . 'preferences (userid, appid, configkey, configvalue) VALUES (?, ?, ?, ?) '
                    . 'ON CONFLICT (userid, appid, configkey) DO UPDATE SET configvalue = EXCLUDED.configvalue WHERE ' . TABLE_PREFIX . 'preferences.configvalue IS DISTINCT FROM EXCLUDED.configvalue',
                    [$uid, $app, $key, $value]
                );
            }
            return 0;
        }
        if ($this->opts['delete']) {
            if ($this->opts['error-if-not-exists'] && $current === null) {
                $this->out('The setting does not exist for user "' . $uid . '".');
                return 1;
            }
            if ($column === 'displayname') {
                $this->out("Display name can't be deleted.");
                return 1;
            }
            if ($column !== null) {
                Db::write($db, 'UPDATE ' . TABLE_PREFIX . "users SET $column = NULL WHERE uid = ? AND $column IS NOT NULL", [$uid]);
            } else {
                Db::write($db, 'DELETE FROM ' . TABLE_PREFIX . 'preferences WHERE userid = ? AND appid = ? AND configkey = ?', [$uid, $app, $key]);
            }
            return 0;
        }
        if ($current !== null) {
            $this->out((string) $current);
            return 0;
        }
        if ($this->given('default-value')) {
            $this->out((string) $this->opts['default-value']);
            return 0;
        }
        if ($column === 'displayname') {
            $this->out($uid);
            return 0;
        }
        $this->out('The setting does not exist for user "' . $uid . '".');
        return 1;
    }

    // --- groups ----------------------------------------------------------------------------

    private function groupList(): int
    {
        $groups = [];
        foreach (Db::rows($this->db(), 'SELECT gid FROM ' . TABLE_PREFIX . 'groups ORDER BY gid') as $row) {
            $groups[(string) $row['gid']] = [];
        }
        foreach (Db::rows($this->db(), 'SELECT gid, uid FROM ' . TABLE_PREFIX . 'group_user ORDER BY gid, uid') as $row) {
            $groups[(string) $row['gid']][] = (string) $row['uid'];
        }
        $this->outMixed($groups);
        return 0;
    }

    private function groupAdd(): int
    {
        $gid = (string) $this->args['groupid'];
        if (Accounts::groupExists($this->db(), $gid)) {
            $this->out('Group "' . $gid . '" already exists.');
            return 1;
        }
        Db::write($this->db(), 'INSERT INTO ' . TABLE_PREFIX . 'groups (gid, displayname) VALUES (?, ?)', [$gid, $this->opts['display-name'] ?? $gid]);
        $this->out('Created group "' . $gid . '"');
        return 0;
    }

    private function groupDelete(): int
    {
        $gid = (string) $this->args['groupid'];
        if ($gid === 'admin') {
            $this->out('Group "' . $gid . '" could not be deleted.');
            return 1;
        }
        if (!Accounts::groupExists($this->db(), $gid)) {
            $this->out('Group "' . $gid . '" does not exist.');
            return 1;
        }
        Db::write($this->db(), 'DELETE FROM ' . TABLE_PREFIX . 'groups WHERE gid = ?', [$gid]);
        $this->out('Group "' . $gid . '" was removed');
        return 0;
    }

    private function groupAddUser(): int
    {
        return $this->groupMembership(true);
    }

    private function groupRemoveUser(): int
    {
        return $this->groupMembership(false);
    }

    private function groupMembership(bool $add): int
    {
        $gid = (string) $this->args['group'];
        $uid = (string) $this->args['user'];
        if (!Accounts::groupExists($this->db(), $gid)) {
            $this->out('group not found');
            return 1;
        }
        if (Accounts::user($this->db(), $uid) === null) {
            $this->out('user not found');
            return 1;
        }
        if ($add) {
            Accounts::addToGroup($this->db(), $gid, $uid);
        } else {
            Db::write($this->db(), 'DELETE FROM ' . TABLE_PREFIX . 'group_user WHERE gid = ? AND uid = ?', [$gid, $uid]);
        }
        return 0;
    }

    // --- apps ------------------------------------------------------------------------------

    private function appList(): int
    {
        $apps = ['enabled' => [], 'disabled' => []];
        foreach (Apps::all($this->config) as $app => $info) {
            if (Apps::isEnabled($this->db(), $app)) {
                $apps['enabled'][$app] = Db::appValue($this->db(), $app, 'installed_version') ?? $info['version'];
            } else {
                $apps['disabled'][$app] = $info['version'];
            }
        }
        if (($this->opts['output'] ?? 'plain') === 'plain') {
            foreach (['enabled' => 'Enabled:', 'disabled' => 'Disabled:'] as $state => $title) {
                $this->out($title);
                foreach ($apps[$state] as $app => $version) {
                    $this->out('  - ' . $app . ': ' . $version);
                }
            }
            return 0;
        }
        $this->outMixed($apps);
        return 0;
    }

    private function appEnable(): int
    {
        $rc = 0;
        $apps = Apps::all($this->config);
        foreach ($this->args['app-id'] as $app) {
            if (!isset($apps[$app])) {
                $this->out('Could not download app ' . $app . ' (' . PRODUCT_NAME . ': app not found in its app folders, and it has no app store)');
                $rc = 1;
                continue;
            }
            if (Apps::isEnabled($this->db(), $app) && $this->opts['groups'] === []) {
                $this->out($app . ' already enabled');
                continue;
            }
            Apps::enable($this->db(), $app, $apps[$app]);
            $this->out($app . ' ' . $apps[$app]['version'] . ' enabled');
        }
        return $rc;
    }

    private function appInstall(): int
    {
        $app = (string) $this->args['app-id'];
        $apps = Apps::all($this->config);
        if (isset($apps[$app]) && Db::appValue($this->db(), $app, 'installed_version') !== null) {
            $this->out($app . ' already installed');
            return 1;
        }
        if (!isset($apps[$app])) {
            $this->out('Could not download app ' . $app . ' (' . PRODUCT_NAME . ': it has no app store)');
            return 1;
        }
        Db::setAppValue($this->db(), $app, 'installed_version', $apps[$app]['version']);
        $this->out($app . ' ' . $apps[$app]['version'] . ' installed');
        if (!$this->opts['keep-disabled']) {
            Apps::enable($this->db(), $app, $apps[$app]);
            $this->out($app . ' ' . $apps[$app]['version'] . ' enabled');
        }
        return 0;
    }

    private function appDisable(): int
    {
        $rc = 0;
        $apps = Apps::all($this->config);
        foreach ($this->args['app-id'] as $app) {
            if (!isset($apps[$app]) || !Apps::isEnabled($this->db(), $app)) {
                $this->out('No such app enabled: ' . $app);
                continue;
            }
            if (\in_array($app, Apps::alwaysEnabled(), true)) {
                $this->out($app . " can't be disabled.");
                $rc = 2;
                continue;
            }
            Db::setAppValue($this->db(), $app, 'enabled', 'no');
            $this->out($app . ' ' . $apps[$app]['version'] . ' disabled');
        }
        return $rc;
    }

    // --- configuration ---------------------------------------------------------------------

    private function configAppGet(): int
    {
        $value = Db::appValue($this->db(), (string) $this->args['app'], (string) $this->args['name']);
        if ($value === null) {
            if ($this->given('default-value')) {
                $this->outMixed($this->opts['default-value']);
                return 0;
            }
            return 1;
        }
        $this->outMixed($value);
        return 0;
    }

    private function configAppSet(): int
    {
        $app = (string) $this->args['app'];
        $name = (string) $this->args['name'];
        if ($this->opts['value'] === null) {
            throw new UsageError('The "--value" option is required.');
        }
        if ($this->opts['update-only'] && Db::appValue($this->db(), $app, $name) === null) {
            $this->out('Config value ' . $name . ' for app ' . $app . ' not updated, as it has not been set before.');
            return 1;
        }
        $value = (string) $this->opts['value'];
        Db::setAppValue($this->db(), $app, $name, $value);
        $shown = $this->opts['sensitive'] || preg_match('/pass|secret|token/i', $name) === 1 ? '<sensitive>' : $value;
        $this->out("Config value '" . $name . "' for app '" . $app . "' is now set to '" . $shown . "', stored as mixed in fast cache");
        return 0;
    }

    private function configAppDelete(): int
    {
        $app = (string) $this->args['app'];
        $name = (string) $this->args['name'];
        if (Db::appValue($this->db(), $app, $name) === null) {
            if ($this->opts['error-if-not-exists']) {
                $this->out('Config ' . $name . ' of app ' . $app . ' could not be deleted because it did not exist');
                return 1;
            }
        } else {
            Db::write($this->db(), 'DELETE FROM ' . TABLE_PREFIX . 'appconfig WHERE appid = ? AND configkey = ?', [$app, $name]);
        }
        $this->out('Config value ' . $name . ' of app ' . $app . ' deleted');
        return 0;
    }

    private function configSystemGet(): int
    {
        $value = $this->config->getPath($this->args['name']);
        if ($value === null) {
            if ($this->given('default-value')) {
                $this->outMixed($this->opts['default-value']);
                return 0;
            }
            return 1;
        }
        $this->outMixed($value);
        return 0;
    }

    private function configSystemSet(): int
    {
        $names = $this->args['name'];
        if ($this->opts['value'] === null) {
            throw new UsageError('The "--value" option is required.');
        }
        $raw = (string) $this->opts['value'];
        $type = (string) $this->opts['type'];
        $value = match ($type) {
            'string' => $raw,
            'integer', 'int' => is_numeric($raw) ? (int) $raw : throw new UsageError('Non-numeric value specified'),
            'double', 'float' => is_numeric($raw) ? (float) $raw : throw new UsageError('Non-numeric value specified'),
            'boolean', 'bool' => match (strtolower($raw)) {
                'true' => true, 'false' => false,
                default => throw new UsageError('Unable to parse value as boolean'),
            },
            'json' => json_decode($raw, true) ?? throw new UsageError('Unable to parse value as json'),
            'null' => null,
            default => throw new UsageError('Invalid type'),
        };
        $top = (string) $names[0];
        $current = $this->config->get($top);
        if ($this->opts['update-only'] && $this->config->getPath($names) === null) {
            throw new UsageError('Config parameter does not exist');
        }
        if (\count($names) > 1) {
            $tree = \is_array($current) ? $current : [];
            $ref = &$tree;
            foreach (\array_slice($names, 1) as $i => $key) {
                if ($i === \count($names) - 2) {
                    $ref[$key] = $value;
                } else {
                    if (!isset($ref[$key]) || !\is_array($ref[$key])) {
                        $ref[$key] = [];
                    }
                    $ref = &$ref[$key];
                }
            }
            unset($ref);
            $value = $tree;
        }
        $this->config->setValues([$top => $value]);
        $readable = $type === 'boolean' || $type === 'bool' ? 'boolean ' . $raw : ($type === 'json' ? 'json ' . $raw : $type . ' ' . $raw);
        if (preg_match('/pass|secret|salt|token/i', implode(' ', $names)) === 1) {
            $readable = $type . ' <sensitive>';
        }
        $this->out('System config value ' . implode(' => ', $names) . ' set to ' . $readable);
        return 0;
    }

    private function configSystemDelete(): int
    {
        $names = $this->args['name'];
        $top = (string) $names[0];
        if ($this->config->getPath($names) === null) {
            if ($this->opts['error-if-not-exists']) {
                $this->out('System config ' . implode(' => ', $names) . ' could not be deleted because it did not exist');
                return 1;
            }
        } elseif (\count($names) === 1) {
            $this->config->setValues([$top => null]);
        } else {
            $tree = $this->config->get($top);
            $ref = &$tree;
            $path = \array_slice($names, 1);
            $last = array_pop($path);
            foreach ($path as $key) {
                $ref = &$ref[$key];
            }
            unset($ref[$last]);
            unset($ref);
            $this->config->setValues([$top => $tree]);
        }
        $this->out('System config value ' . implode(' => ', $names) . ' deleted');
        return 0;
    }

    /**
     * `db:add-missing-*`: the test release's schema never lacks anything (it has no indices,
     * columns or primary keys added after install), so these only answer as Nextcloud does when
     * there is nothing to add.
     */
    private function dbAddMissingIndices(): int
    {
        $this->out('Done.');
        return 0;
    }

    private function dbAddMissingColumns(): int
    {
        $this->out('Done.');
        return 0;
    }

    private function dbAddMissingPrimaryKeys(): int
    {
        $this->out('Done.');
        return 0;
    }

    /** `maintenance:repair`: the test release has no repair steps; it lists none and succeeds. */
    private function maintenanceRepair(): int
    {
        return 0;
    }

    private function backgroundCron(): int
    {
        return $this->backgroundMode('cron');
    }

    private function backgroundAjax(): int
    {
        return $this->backgroundMode('ajax');
    }

    private function backgroundWebcron(): int
    {
        return $this->backgroundMode('webcron');
    }

    private function backgroundMode(string $mode): int
    {
        Db::setAppValue($this->db(), 'core', 'backgroundjobs_mode', $mode);
        $this->out("Set mode for background jobs to '" . $mode . "'");
        return 0;
    }
}
