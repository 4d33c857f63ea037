<?php
// Nextcloud test release (a test double standing in for Nextcloud's web entry points): NOT
// Nextcloud. index.php proves that the pool, the database and Redis it reaches are the instance's
// own; status.php and cron.php answer as Nextcloud's do.

declare(strict_types=1);

namespace ChatonTestRelease;

require_once __DIR__ . '/base.php';

final class Web
{
    private static function config(): Config
    {
        return new Config(Config::folder());
    }

    /** @param array<mixed> $data */
    private static function json(array $data, int $code = 200): void
    {
        http_response_code($code);
        header('Content-Type: application/json; charset=utf-8');
        echo json_encode($data, JSON_UNESCAPED_SLASHES), "\n";
    }

    private static function page(string $title, string $body, int $code): void
    {
        http_response_code($code);
        header('Content-Type: text/html; charset=utf-8');
        $name = htmlspecialchars(PRODUCT_NAME);
        echo "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>" . htmlspecialchars($title) . ' - ' . $name . "</title></head>\n"
            . "<body>\n<h1>" . $name . "</h1>\n<p>A test double built by the test suite, standing in for a real release in tests. It is not Nextcloud.</p>\n"
            . $body . "\n</body>\n</html>\n";
    }

    /** status.php: Nextcloud's status, in its key order, for anyone (CORS *). */
    public static function status(): void
    {
        try {
            $config = self::config();
            $status = Server::status($config);
            $values = [
                'installed' => $status['installed'], 'maintenance' => $status['maintenance'],
                'needsDbUpgrade' => $status['needsDbUpgrade'], 'version' => $status['version'],
                'versionstring' => $status['versionstring'], 'edition' => '',
                'productname' => PRODUCT_NAME, 'extendedSupport' => false,
            ];
            if (Release::$cli) {
                print_r($values);
                return;
            }
            header('Access-Control-Allow-Origin: *');
            self::json($values);
        } catch (\Throwable) {
            http_response_code(500);
        }
    }

    /** The checks Nextcloud makes before serving a page: 503 and a page listing what is wrong. */
    private static function refuse(Config $config, bool $asJson): bool
    {
        try {
            Server::checkMemcache($config);
            $needUpgrade = Server::needUpgrade($config);
        } catch (HintException $e) {
            self::problem($asJson, 500, 'error', [['error' => $e->getMessage(), 'hint' => $e->hint]]);
            return true;
        }
        if ($config->getBool('maintenance')) {
            header('X-Nextcloud-Maintenance-Mode: 1');
            header('Retry-After: 120');
            self::problem($asJson, 503, 'maintenance', [['error' => 'This instance is currently in maintenance mode, which may take a while.', 'hint' => 'This page will refresh itself when the instance is available again.']]);
            return true;
        }
        if ($needUpgrade) {
            header('Retry-After: 120');
            self::problem($asJson, 503, 'update', [['error' => 'Update needed', 'hint' => 'Please use the command line updater (occ upgrade).']]);
            return true;
        }
        $errors = Server::check($config);
        if ($errors !== []) {
            self::problem($asJson, 503, 'error', $errors);
            return true;
        }
        return false;
    }

    /** @param list<array{error: string, hint: string}> $errors */
    private static function problem(bool $asJson, int $code, string $state, array $errors): void
    {
        if ($asJson) {
            self::json(['productname' => PRODUCT_NAME, 'state' => $state, 'errors' => $errors], $code);
            return;
        }
        $items = '';
        foreach ($errors as $error) {
            $items .= '<li>' . htmlspecialchars($error['error']) . '<br><small>' . htmlspecialchars($error['hint']) . "</small></li>\n";
        }
        self::page($state, "<ul>\n" . $items . '</ul>', $code);
    }

    /** index.php: the proof that the wiring is the instance's own (HTML, or JSON with ?format=json). */
    public static function index(): void
    {
        $asJson = ($_GET['format'] ?? '') === 'json';
        $config = self::config();
        if (self::refuse($config, $asJson)) {
            return;
        }
        $user = posix_getpwuid(posix_geteuid());
        $envDir = getenv('NEXTCLOUD_CONFIG_DIR');
        $data = Server::dataDirectory($config);
        $report = [
            'productname' => PRODUCT_NAME,
            'test_release' => true,
            'versionstring' => Release::$versionString,
            'installed' => Server::installed($config),
            'config_dir' => $envDir === false ? null : $envDir,
            'instanceid' => $config->get('instanceid'),
            'unix_user' => \is_array($user) ? $user['name'] : null,
            'db' => self::probeDb($config),
            'redis' => self::probeRedis($config),
            'datadirectory_writable' => is_dir($data) && is_writable($data),
            'maintenance' => $config->getBool('maintenance'),
        ];
        if ($asJson) {
            self::json($report);
            return;
        }
        $rows = '';
        foreach ($report as $key => $value) {
            $rows .= '<tr><th>' . htmlspecialchars($key) . '</th><td><code>' . htmlspecialchars((string) json_encode($value, JSON_UNESCAPED_SLASHES)) . "</code></td></tr>\n";
        }
        self::page('Instance', "<table>\n" . $rows . '</table>', 200);
    }

    /** @return array<string, mixed> */
    private static function probeDb(Config $config): array
    {
        $password = (string) $config->get('dbpassword', '');
        try {
            $db = Db::fromConfig($config);
            $row = Db::rows($db, 'SELECT current_user AS "user", current_database() AS "database"')[0];
            return ['ok' => true, 'current_user' => $row['user'], 'current_database' => $row['database']];
        } catch (\Throwable $e) {
            return ['ok' => false, 'error' => Db::hide($e->getMessage(), $password)];
        }
    }

    /** @return array<string, mixed> SET then GET a key named after the instance, through the configured Redis */
    private static function probeRedis(Config $config): array
    {
        $classes = [
            'memcache.local' => $config->get('memcache.local'),
            'memcache.distributed' => $config->get('memcache.distributed'),
            'memcache.locking' => $config->get('memcache.locking'),
        ];
        $settings = $config->get('redis');
        if (!\is_array($settings)) {
            return ['ok' => false, 'error' => 'no "redis" settings in the configuration', 'memcache' => $classes];
        }
        $password = (string) ($settings['password'] ?? '');
        try {
            if (!class_exists(\Redis::class)) {
                throw new \RuntimeException('the PHP redis module is not loaded');
            }
            $redis = new \Redis();
            $host = (string) ($settings['host'] ?? '127.0.0.1');
            $port = $host !== '' && $host[0] === '/' ? 0 : (int) ($settings['port'] ?? 6379);
            $redis->connect($host, $port, (float) ($settings['timeout'] ?? 1.5));
            if (isset($settings['user'], $settings['password']) && $settings['user'] !== '' && $settings['password'] !== '') {
                $redis->auth([(string) $settings['user'], $password]);
            } elseif ($password !== '') {
                $redis->auth($password);
            }
            if (isset($settings['dbindex'])) {
                $redis->select((int) $settings['dbindex']);
            }
            $key = 'chaton-test-release:' . (string) $config->get('instanceid', 'none');
            $value = bin2hex(random_bytes(8));
            $redis->set($key, $value, ['EX' => 60]);
            $read = $redis->get($key);
            if ($read !== $value) {
                throw new \RuntimeException('read back ' . var_export($read, true) . ' instead of what was written');
            }
            return ['ok' => true, 'host' => $host, 'key' => $key, 'memcache' => $classes];
        } catch (\Throwable $e) {
            return ['ok' => false, 'error' => Db::hide($e->getMessage(), $password), 'memcache' => $classes];
        }
    }

    /**
     * cron.php. From the command line (a timer, as the instance's user): refuses another user,
     * switches the background jobs to cron and records the run. Over the web: answers as
     * Nextcloud does (an error when the jobs are run by the system's cron) and records the run.
     */
    public static function cron(): int
    {
        $config = self::config();
        try {
            Server::checkMemcache($config);
            if (Server::needUpgrade($config) || $config->getBool('maintenance') || !Server::installed($config)) {
                return 0; // Nextcloud skips the run
            }
        } catch (HintException $e) {
            echo $e->getMessage(), "\n";
            return 1;
        }
        if (Release::$cli) {
            $uid = posix_getuid();
            $owner = @fileowner($config->file());
            if ($uid !== $owner) {
                echo "Console has to be executed with the user that owns the file config/config.php\n";
                echo 'Current user id: ' . $uid . "\n";
                echo 'Owner id of config.php: ' . ($owner === false ? '' : $owner) . "\n";
                return 1;
            }
        }
        $db = Db::fromConfig($config);
        $mode = Db::appValue($db, 'core', 'backgroundjobs_mode') ?? 'ajax';
        if (Release::$cli) {
            if ($mode !== 'cron') {
                Db::setAppValue($db, 'core', 'backgroundjobs_mode', 'cron');
            }
        } elseif ($mode === 'cron') {
            self::json(['data' => ['message' => 'Backgroundjobs are using system cron!'], 'status' => 'error']);
        } else {
            self::json(['status' => 'success']);
        }
        Db::setAppValue($db, 'core', 'lastcron', (string) time());
        return 0;
    }

    /** remote.php and public.php: the services need a login; the test release serves none. */
    public static function service(string $entry): void
    {
        $config = self::config();
        if ($config->getBool('maintenance')) {
            http_response_code(503);
            return;
        }
        $path = (string) ($_SERVER['PATH_INFO'] ?? '');
        if ($entry === 'remote' && preg_match('#^/(dav|webdav|caldav|carddav)(/|$)#', $path) === 1) {
            http_response_code(401);
            header('WWW-Authenticate: Basic realm="' . PRODUCT_NAME . '", charset="UTF-8"');
            header('Content-Type: application/xml; charset=utf-8');
            echo "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\" xmlns:s=\"http://sabredav.org/ns\">\n"
                . "  <s:exception>Sabre\\DAV\\Exception\\NotAuthenticated</s:exception>\n"
                . '  <s:message>No public access to this resource., ' . PRODUCT_NAME . "</s:message>\n</d:error>\n";
            return;
        }
        http_response_code($entry === 'remote' ? 404 : 400);
        header('Content-Type: text/plain; charset=utf-8');
        echo PRODUCT_NAME . ": no such service\n";
    }
}
