<?php
// Nextcloud test release (a test double standing in for Nextcloud's class OC): NOT Nextcloud.
// Nextcloud's configuration files may read \OC::$SERVERROOT, the release's real folder, which
// lib/base.php sets before it reads them; so does the test release. Built by
// tests/nextcloud_test_release/build.py; see TEST-RELEASE at the root.

declare(strict_types=1);

final class OC
{
    public static string $SERVERROOT = '';
}
