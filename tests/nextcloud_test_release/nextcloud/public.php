<?php
// Nextcloud test release (a test double standing in for Nextcloud's public.php): NOT Nextcloud. See TEST-RELEASE.

declare(strict_types=1);

require_once __DIR__ . '/lib/web.php';

\ChatonTestRelease\Web::service('public');
