import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { needTool, run, tmpdir } from "../../../test/fixtures/tools.ts";
import { OslessError } from "../../errors.ts";
import { prng } from "../../tar/testkit.ts";
import { DirFiles } from "../dir-files.ts";
import type { ImageFiles } from "../files.ts";
import {
  apkRepositoryVersions,
  identifyOs,
  type OsIdentification,
  type OsRelease,
  parseBusyBox,
  parseLsbRelease,
  parseOsRelease,
  parseRedhatRelease,
  parseSystemReleaseCpe,
  RELEASE_READ_LIMIT,
} from "./index.ts";

// ---------------------------------------------------------------------------------------------------------------
// Release files as the distributions ship them.

const ALPINE_320 = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
`;
const ALPINE_REPOSITORIES = `https://dl-cdn.alpinelinux.org/alpine/v3.20/main
https://dl-cdn.alpinelinux.org/alpine/v3.20/community
`;

const CENTOS7_OS_RELEASE = `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
ANSI_COLOR="0;31"
CPE_NAME="cpe:/o:centos:centos:7"
HOME_URL="https://www.centos.org/"
BUG_REPORT_URL="https://bugs.centos.org/"

CENTOS_MANTISBT_PROJECT="CentOS-7"
CENTOS_MANTISBT_PROJECT_VERSION="7"
REDHAT_SUPPORT_PRODUCT="centos"
REDHAT_SUPPORT_PRODUCT_VERSION="7"

`;
const CENTOS7_RELEASE = "CentOS Linux release 7.9.2009 (Core)\n";

const ROCKY9_OS_RELEASE = `NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
SUPPORT_END="2032-05-31"
ROCKY_SUPPORT_PRODUCT="Rocky-Linux-9"
ROCKY_SUPPORT_PRODUCT_VERSION="9.4"
REDHAT_SUPPORT_PRODUCT="Rocky Linux"
REDHAT_SUPPORT_PRODUCT_VERSION="9.4"
`;
const ROCKY9_RELEASE = "Rocky Linux release 9.4 (Blue Onyx)\n";

const ALMA9_RELEASE = "AlmaLinux release 9.4 (Seafoam Ocelot)\n";
const ALMA9_CPE = "cpe:/o:almalinux:almalinux:9::baseos\n";

const FEDORA40_OS_RELEASE = `NAME="Fedora Linux"
VERSION="40 (Container Image)"
ID=fedora
VERSION_ID=40
VERSION_CODENAME=""
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Container Image)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
DEFAULT_HOSTNAME="fedora"
HOME_URL="https://fedoraproject.org/"
DOCUMENTATION_URL="https://docs.fedoraproject.org/en-US/fedora/f40/system-administrators-guide/"
SUPPORT_URL="https://ask.fedoraproject.org/"
BUG_REPORT_URL="https://bugzilla.redhat.com/"
REDHAT_BUGZILLA_PRODUCT="Fedora"
REDHAT_BUGZILLA_PRODUCT_VERSION=40
REDHAT_SUPPORT_PRODUCT="Fedora"
REDHAT_SUPPORT_PRODUCT_VERSION=40
SUPPORT_END=2025-05-13
VARIANT="Container Image"
VARIANT_ID=container
`;
const FEDORA40_RELEASE = "Fedora release 40 (Forty)\n";

const UBUNTU2404_OS_RELEASE = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
SUPPORT_URL="https://help.ubuntu.com/"
BUG_REPORT_URL="https://bugs.launchpad.net/ubuntu/"
PRIVACY_POLICY_URL="https://www.ubuntu.com/legal/terms-and-policies/privacy-policy"
UBUNTU_CODENAME=noble
LOGO=ubuntu-logo
`;
const UBUNTU2404_LSB = `DISTRIB_ID=Ubuntu
DISTRIB_RELEASE=24.04
DISTRIB_CODENAME=noble
DISTRIB_DESCRIPTION="Ubuntu 24.04.1 LTS"
`;

const AL2_OS_RELEASE = `NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
HOME_URL="https://amazonlinux.com/"
SUPPORT_END="2025-06-30"
`;
const AL2_SYSTEM_RELEASE = "Amazon Linux release 2 (Karoo)\n";
const AL2_CPE = "cpe:2.3:o:amazon:amazon_linux:2\n";

const AL2023_OS_RELEASE = `NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.5.20240805"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"
DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"
SUPPORT_URL="https://aws.amazon.com/premiumsupport/"
BUG_REPORT_URL="https://github.com/amazonlinux/amazon-linux-2023"
VENDOR_NAME="AWS"
VENDOR_URL="https://aws.amazon.com/"
SUPPORT_END="2028-03-15"
`;
const AL2023_SYSTEM_RELEASE = "Amazon Linux release 2023.5.20240805 (Amazon Linux)\n";
const AL2023_CPE = "cpe:2.3:o:amazon:amazon_linux:2023\n";

// wolfi-base's os-release as its README shows it: a rolling distribution dated by VERSION_ID.
const WOLFI_OS_RELEASE = `ID=wolfi
NAME="Wolfi"
PRETTY_NAME="Wolfi"
VERSION_ID="20230201"
HOME_URL="https://wolfi.dev"
`;
const WOLFI_REPOSITORIES = "https://packages.wolfi.dev/os\n";

// Arch Linux's (the filesystem package): the rolling form os-release(5) describes, BUILD_ID and no VERSION_ID.
const ARCH_OS_RELEASE = `NAME="Arch Linux"
PRETTY_NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
ANSI_COLOR="38;2;23;147;209"
HOME_URL="https://archlinux.org/"
DOCUMENTATION_URL="https://wiki.archlinux.org/"
SUPPORT_URL="https://bbs.archlinux.org/"
BUG_REPORT_URL="https://gitlab.archlinux.org/groups/archlinux/-/issues"
PRIVACY_POLICY_URL="https://terms.archlinux.org/docs/privacy-policy/"
LOGO=archlinux-logo
`;

const LEAP156_OS_RELEASE = `NAME="openSUSE Leap"
VERSION="15.6"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
PRETTY_NAME="openSUSE Leap 15.6"
ANSI_COLOR="0;32"
CPE_NAME="cpe:/o:opensuse:leap:15.6"
BUG_REPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org/"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Leap"
LOGO="distributor-logo-Leap"
`;

const TUMBLEWEED_OS_RELEASE = `NAME="openSUSE Tumbleweed"
# VERSION="20240830"
ID="opensuse-tumbleweed"
ID_LIKE="opensuse suse"
VERSION_ID="20240830"
PRETTY_NAME="openSUSE Tumbleweed"
ANSI_COLOR="0;32"
# CPE 2.3 format, boo#1217921
CPE_NAME="cpe:2.3:o:opensuse:tumbleweed:20240830:*:*:*:*:*:*:*"
#CPE 2.2 format
#CPE_NAME="cpe:/o:opensuse:tumbleweed:20240830"
BUG_REPORT_URL="https://bugzilla.opensuse.org"
SUPPORT_URL="https://bugs.opensuse.org"
HOME_URL="https://www.opensuse.org"
DOCUMENTATION_URL="https://en.opensuse.org/Portal:Tumbleweed"
LOGO="distributor-logo-Tumbleweed"
`;

const DEBIAN12_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

const DEBIAN_TESTING_OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux trixie/sid"
NAME="Debian GNU/Linux"
VERSION_CODENAME=trixie
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

// gcr.io/distroless/static-debian12's /etc/os-release.
const DISTROLESS12_OS_RELEASE = `PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
SUPPORT_URL="https://github.com/GoogleContainerTools/distroless/blob/master/README.md"
BUG_REPORT_URL="https://github.com/GoogleContainerTools/distroless/issues/new"
`;

const BASE_FILES_STATUS = `Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u7
Description: Debian base system miscellaneous files
`;

// ---------------------------------------------------------------------------------------------------------------
// Roots on disk.

type Entry = string | Buffer | { link: string } | { dir: true } | { copy: string };
type Tree = Record<string, Entry>;

async function makeRoot(tree: Tree): Promise<string> {
  const root = await tmpdir("os-root");
  for (const [path, e] of Object.entries(tree)) {
    const host = join(root, path);
    await mkdir(dirname(host), { recursive: true });
    if (typeof e === "string" || Buffer.isBuffer(e)) await writeFile(host, e);
    else if ("link" in e) await symlink(e.link, host);
    else if ("copy" in e) await copyFile(e.copy, host);
    else await mkdir(host, { recursive: true });
  }
  return root;
}

/** DirFiles that remembers the largest read asked for and the largest returned. */
class SpyFiles implements ImageFiles {
  readonly inner: DirFiles;
  maxAsked = 0;
  maxGot = 0;
  readonly reads: string[] = [];
  constructor(root: string) {
    this.inner = new DirFiles(root);
  }
  async read(path: string, maxBytes: number): Promise<Buffer | undefined> {
    this.reads.push(path);
    this.maxAsked = Math.max(this.maxAsked, maxBytes);
    const b = await this.inner.read(path, maxBytes);
    if (b) this.maxGot = Math.max(this.maxGot, b.length);
    return b;
  }
  stat(path: string) {
    return this.inner.stat(path);
  }
  lstat(path: string) {
    return this.inner.lstat(path);
  }
  readlink(path: string) {
    return this.inner.readlink(path);
  }
  list(path: string) {
    return this.inner.list(path);
  }
  walk() {
    return this.inner.walk();
  }
}

async function identifyTree(tree: Tree): Promise<OsIdentification> {
  return identifyOs(new DirFiles(await makeRoot(tree)));
}

/** Random bytes without '=', so no line of them can assign a key. */
function junkBytes(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < b.length; i++) if (b[i] === 0x3d) b[i] = 0x3e;
  return b;
}

function plain(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields));
}

function evidenceOf(r: OsIdentification, path: string) {
  return r.evidence.filter((e) => e.path === path);
}

// ---------------------------------------------------------------------------------------------------------------
// The real-world table.

interface Case {
  name: string;
  tree: Tree;
  source: string;
  os: Partial<Omit<OsRelease, "fields">>;
  fields?: Record<string, string>;
  hints?: { kind: string; value: string }[];
  distroless?: boolean;
}

const CASES: Case[] = [
  {
    name: "Alpine 3.20 (os-release, alpine-release, apk repositories)",
    tree: {
      "usr/lib/os-release": ALPINE_320,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/alpine-release": "3.20.3\n",
      "etc/apk/repositories": ALPINE_REPOSITORIES,
    },
    source: "/etc/os-release",
    os: {
      id: "alpine",
      versionId: "3.20.3",
      prettyName: "Alpine Linux v3.20",
      name: "Alpine Linux",
      version: null,
      idLike: [],
    },
    hints: [{ kind: "apk-repositories-version", value: "3.20" }],
  },
  {
    name: "Alpine 3.20 with only alpine-release",
    tree: { "etc/alpine-release": "3.20.3\n", "etc/apk/repositories": ALPINE_REPOSITORIES },
    source: "/etc/alpine-release",
    os: { id: "alpine", versionId: "3.20.3", name: "Alpine Linux" },
    fields: {},
    hints: [{ kind: "apk-repositories-version", value: "3.20" }],
  },
  {
    name: "CentOS 7 (os-release and all release files)",
    tree: {
      "usr/lib/os-release": CENTOS7_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/centos-release": CENTOS7_RELEASE,
      "etc/redhat-release": { link: "centos-release" },
      "etc/system-release": { link: "centos-release" },
      "etc/system-release-cpe": "cpe:/o:centos:centos:7\n",
    },
    source: "/etc/os-release",
    os: {
      id: "centos",
      versionId: "7",
      version: "7 (Core)",
      idLike: ["rhel", "fedora"],
      cpeName: "cpe:/o:centos:centos:7",
    },
  },
  {
    name: "CentOS 7 without os-release: system-release-cpe (CPE 2.2 without an update field)",
    tree: {
      "etc/centos-release": CENTOS7_RELEASE,
      "etc/redhat-release": { link: "centos-release" },
      "etc/system-release-cpe": "cpe:/o:centos:centos:7\n",
    },
    source: "/etc/system-release-cpe",
    os: { id: "centos", versionId: "7", name: "centos", cpeName: "cpe:/o:centos:centos:7" },
  },
  {
    name: "CentOS 7 with redhat-release (a link to centos-release) alone",
    tree: { "etc/centos-release": CENTOS7_RELEASE, "etc/redhat-release": { link: "centos-release" } },
    source: "/etc/redhat-release",
    os: {
      id: "centos",
      versionId: "7.9.2009",
      version: "7.9.2009",
      name: "CentOS Linux",
      prettyName: "CentOS Linux release 7.9.2009 (Core)",
      idLike: ["centos", "rhel"],
    },
  },
  {
    name: "CentOS 7 with centos-release alone",
    tree: { "etc/centos-release": CENTOS7_RELEASE },
    source: "/etc/centos-release",
    os: { id: "centos", versionId: "7.9.2009" },
  },
  {
    name: "Rocky 9 (os-release)",
    tree: {
      "usr/lib/os-release": ROCKY9_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/rocky-release": ROCKY9_RELEASE,
      "etc/redhat-release": { link: "rocky-release" },
    },
    source: "/etc/os-release",
    os: {
      id: "rocky",
      versionId: "9.4",
      version: "9.4 (Blue Onyx)",
      idLike: ["rhel", "centos", "fedora"],
      cpeName: "cpe:/o:rocky:rocky:9::baseos",
    },
  },
  {
    name: "Rocky 9 with redhat-release alone",
    tree: { "etc/rocky-release": ROCKY9_RELEASE, "etc/redhat-release": { link: "rocky-release" } },
    source: "/etc/redhat-release",
    os: { id: "rocky", versionId: "9.4", version: "9.4 (Blue Onyx)", idLike: ["rocky", "rhel"] },
  },
  {
    name: "AlmaLinux 9 with almalinux-release alone",
    tree: { "etc/almalinux-release": ALMA9_RELEASE },
    source: "/etc/almalinux-release",
    os: { id: "almalinux", versionId: "9.4", name: "AlmaLinux", idLike: ["almalinux", "rhel"] },
  },
  {
    name: "AlmaLinux 9 with system-release-cpe and almalinux-release",
    tree: { "etc/almalinux-release": ALMA9_RELEASE, "etc/system-release-cpe": ALMA9_CPE },
    source: "/etc/system-release-cpe",
    os: { id: "almalinux", versionId: "9", cpeName: "cpe:/o:almalinux:almalinux:9::baseos" },
  },
  {
    name: 'Fedora 40 (os-release, KEY="" is empty)',
    tree: {
      "usr/lib/os-release": FEDORA40_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/fedora-release": FEDORA40_RELEASE,
      "etc/redhat-release": { link: "fedora-release" },
      "etc/system-release": { link: "fedora-release" },
    },
    source: "/etc/os-release",
    os: {
      id: "fedora",
      versionId: "40",
      versionCodename: null,
      variantId: "container",
      prettyName: "Fedora Linux 40 (Container Image)",
      cpeName: "cpe:/o:fedoraproject:fedora:40",
    },
  },
  {
    name: "Fedora 40 with fedora-release alone",
    tree: { "etc/fedora-release": FEDORA40_RELEASE },
    source: "/etc/fedora-release",
    os: { id: "fedora", versionId: "40", version: "40 (Forty)" },
  },
  {
    name: "Ubuntu 24.04 (os-release, lsb-release, debian_version trixie/sid)",
    tree: {
      "usr/lib/os-release": UBUNTU2404_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/lsb-release": UBUNTU2404_LSB,
      "etc/debian_version": "trixie/sid\n",
    },
    source: "/etc/os-release",
    os: {
      id: "ubuntu",
      versionId: "24.04",
      version: "24.04.1 LTS (Noble Numbat)",
      versionCodename: "noble",
      idLike: ["debian"],
    },
  },
  {
    name: "Ubuntu 24.04 with lsb-release only (debian_version trixie/sid does not win)",
    tree: { "etc/lsb-release": UBUNTU2404_LSB, "etc/debian_version": "trixie/sid\n" },
    source: "/etc/lsb-release",
    os: {
      id: "ubuntu",
      name: "Ubuntu",
      versionId: "24.04",
      versionCodename: "noble",
      prettyName: "Ubuntu 24.04.1 LTS",
      version: null,
    },
    fields: {
      DISTRIB_ID: "Ubuntu",
      DISTRIB_RELEASE: "24.04",
      DISTRIB_CODENAME: "noble",
      DISTRIB_DESCRIPTION: "Ubuntu 24.04.1 LTS",
    },
  },
  {
    name: "Amazon Linux 2 (os-release, system-release, system-release-cpe)",
    tree: {
      "etc/os-release": AL2_OS_RELEASE,
      "etc/system-release": AL2_SYSTEM_RELEASE,
      "etc/system-release-cpe": AL2_CPE,
    },
    source: "/etc/os-release",
    os: {
      id: "amzn",
      versionId: "2",
      prettyName: "Amazon Linux 2",
      cpeName: "cpe:2.3:o:amazon:amazon_linux:2",
    },
  },
  {
    name: "Amazon Linux 2 without os-release: system-release-cpe (CPE 2.3)",
    tree: { "etc/system-release": AL2_SYSTEM_RELEASE, "etc/system-release-cpe": AL2_CPE },
    source: "/etc/system-release-cpe",
    os: { id: "amzn", versionId: "2", name: "amazon_linux", cpeName: "cpe:2.3:o:amazon:amazon_linux:2" },
  },
  {
    name: "Amazon Linux 2 with system-release alone",
    tree: { "etc/system-release": AL2_SYSTEM_RELEASE },
    source: "/etc/system-release",
    os: { id: "amzn", versionId: "2", version: "2 (Karoo)", name: "Amazon Linux", idLike: ["amzn", "rhel"] },
  },
  {
    name: "Amazon Linux 2023 (os-release, system-release, system-release-cpe)",
    tree: {
      "usr/lib/os-release": AL2023_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/system-release": AL2023_SYSTEM_RELEASE,
      "etc/system-release-cpe": AL2023_CPE,
    },
    source: "/etc/os-release",
    os: { id: "amzn", versionId: "2023", idLike: ["fedora"], prettyName: "Amazon Linux 2023.5.20240805" },
  },
  {
    name: "Amazon Linux 2023 without os-release: system-release-cpe",
    tree: { "etc/system-release": AL2023_SYSTEM_RELEASE, "etc/system-release-cpe": AL2023_CPE },
    source: "/etc/system-release-cpe",
    os: { id: "amzn", versionId: "2023" },
  },
  {
    name: "Amazon Linux 2023 with system-release alone",
    tree: { "etc/system-release": AL2023_SYSTEM_RELEASE },
    source: "/etc/system-release",
    os: { id: "amzn", versionId: "2023.5.20240805", prettyName: AL2023_SYSTEM_RELEASE.trim() },
  },
  {
    name: "Wolfi (rolling, dated VERSION_ID; apk repositories that are not Alpine's)",
    tree: { "etc/os-release": WOLFI_OS_RELEASE, "etc/apk/repositories": WOLFI_REPOSITORIES },
    source: "/etc/os-release",
    os: { id: "wolfi", versionId: "20230201", prettyName: "Wolfi", buildId: null },
    hints: [],
  },
  {
    name: "Arch Linux (rolling: BUILD_ID, no VERSION_ID)",
    tree: { "usr/lib/os-release": ARCH_OS_RELEASE, "etc/os-release": { link: "../usr/lib/os-release" } },
    source: "/etc/os-release",
    os: { id: "arch", versionId: null, version: null, buildId: "rolling" },
  },
  {
    name: "openSUSE Leap 15.6 (/usr/lib/os-release only)",
    tree: { "usr/lib/os-release": LEAP156_OS_RELEASE },
    source: "/usr/lib/os-release",
    os: { id: "opensuse-leap", versionId: "15.6", idLike: ["suse", "opensuse"] },
  },
  {
    name: "openSUSE Tumbleweed (comments, CPE 2.3 with wildcards)",
    tree: {
      "usr/lib/os-release": TUMBLEWEED_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
    },
    source: "/etc/os-release",
    os: {
      id: "opensuse-tumbleweed",
      versionId: "20240830",
      version: null,
      cpeName: "cpe:2.3:o:opensuse:tumbleweed:20240830:*:*:*:*:*:*:*",
    },
  },
  {
    name: "Debian 12 with debian_version 12.7 (point release supplement)",
    tree: {
      "usr/lib/os-release": DEBIAN12_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/debian_version": "12.7\n",
    },
    source: "/etc/os-release",
    os: {
      id: "debian",
      versionId: "12.7",
      version: "12 (bookworm)",
      versionCodename: "bookworm",
      prettyName: "Debian GNU/Linux 12 (bookworm)",
    },
  },
  {
    name: "Debian testing with debian_version trixie/sid (ignored)",
    tree: { "etc/os-release": DEBIAN_TESTING_OS_RELEASE, "etc/debian_version": "trixie/sid\n" },
    source: "/etc/os-release",
    os: { id: "debian", versionId: null, version: null, versionCodename: "trixie" },
  },
  {
    name: "Debian without VERSION: the point release fills VERSION_ID and VERSION",
    tree: { "etc/os-release": 'ID=debian\nNAME="Debian GNU/Linux"\n', "etc/debian_version": "13.1" },
    source: "/etc/os-release",
    os: { id: "debian", versionId: "13.1", version: "13.1" },
  },
  {
    name: "debian_version alone",
    tree: { "etc/debian_version": "12.7\n" },
    source: "/etc/debian_version",
    os: { id: "debian", versionId: "12.7", version: "12.7" },
  },
  {
    name: "distroless static-debian12 (PRETTY_NAME Distroless, status.d without status)",
    tree: {
      "etc/os-release": DISTROLESS12_OS_RELEASE,
      "etc/debian_version": "12.7\n",
      "var/lib/dpkg/status.d/base-files": BASE_FILES_STATUS,
      "var/lib/dpkg/status.d/base-files.md5sums": "0123456789abcdef0123456789abcdef  etc/debian_version\n",
    },
    source: "/etc/os-release",
    os: {
      id: "debian",
      versionId: "12.7",
      prettyName: "Distroless",
      version: "Debian GNU/Linux 12 (bookworm)",
    },
    hints: [
      { kind: "distroless", value: "PRETTY_NAME=Distroless" },
      { kind: "distroless", value: "/var/lib/dpkg/status.d without /var/lib/dpkg/status" },
    ],
    distroless: true,
  },
  {
    name: "distroless-like from Debian packages (status.d, Debian's own os-release)",
    tree: {
      "usr/lib/os-release": DEBIAN12_OS_RELEASE,
      "etc/os-release": { link: "../usr/lib/os-release" },
      "etc/debian_version": "12.7\n",
      "var/lib/dpkg/status.d/base-files": BASE_FILES_STATUS,
    },
    source: "/etc/os-release",
    os: { id: "debian", versionId: "12.7" },
    hints: [{ kind: "distroless", value: "/var/lib/dpkg/status.d without /var/lib/dpkg/status" }],
    distroless: true,
  },
  {
    name: "Debian with both status and status.d is not distroless",
    tree: {
      "etc/os-release": DEBIAN12_OS_RELEASE,
      "var/lib/dpkg/status": BASE_FILES_STATUS,
      "var/lib/dpkg/status.d": { dir: true },
    },
    source: "/etc/os-release",
    os: { id: "debian", versionId: "12" },
    hints: [],
    distroless: false,
  },
  {
    name: "Oracle Linux 7: a generic redhat-release yields to oracle-release",
    tree: {
      "etc/redhat-release": "Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
      "etc/oracle-release": "Oracle Linux Server release 7.9\n",
    },
    source: "/etc/oracle-release",
    os: { id: "ol", versionId: "7.9", name: "Oracle Linux Server", idLike: ["ol", "rhel"] },
  },
  {
    name: "RHEL 9 (UBI) with redhat-release alone",
    tree: {
      "etc/redhat-release": "Red Hat Enterprise Linux release 9.4 (Plow)\n",
      "etc/system-release": { link: "redhat-release" },
    },
    source: "/etc/redhat-release",
    os: { id: "rhel", versionId: "9.4", idLike: ["rhel"] },
  },
];

for (const c of CASES) {
  test(`identifyOs: ${c.name}`, async () => {
    const r = await identifyTree(c.tree);
    assert.equal(r.source, c.source, JSON.stringify(r.evidence));
    assert.ok(r.os, "an OS is identified");
    for (const [k, v] of Object.entries(c.os)) {
      assert.deepEqual(r.os[k as keyof OsRelease], v, `${k} of ${c.name}`);
    }
    if (c.fields) assert.deepEqual(plain(r.os.fields), c.fields);
    if (c.hints) assert.deepEqual(r.hints, c.hints);
    assert.equal(r.distroless, c.distroless ?? false);
    assert.deepEqual(r.findings, []);
    // The deciding file is in the evidence, found and marked.
    const used = evidenceOf(r, c.source);
    assert.ok(
      used.some((e) => e.found && e.note?.includes("identified")),
      JSON.stringify(used),
    );
  });
}

test("identifyOs: every os-release key is kept verbatim; a symlinked /etc/os-release is followed in the image", async () => {
  const r = await identifyTree({
    "usr/lib/os-release": ROCKY9_OS_RELEASE,
    "etc/os-release": { link: "../usr/lib/os-release" },
  });
  assert.equal(r.os?.fields.PLATFORM_ID, "platform:el9");
  assert.equal(r.os?.fields.SUPPORT_END, "2032-05-31");
  assert.equal(r.os?.fields.REDHAT_SUPPORT_PRODUCT, "Rocky Linux");
  assert.equal(Object.keys(r.os?.fields ?? {}).length, 17);
  assert.deepEqual(r.evidence[0], {
    path: "/etc/os-release",
    found: true,
    note: "symlink -> ../usr/lib/os-release (/usr/lib/os-release); identified rocky 9.4",
  });
  // The first file won: /usr/lib/os-release itself is not checked again.
  assert.equal(evidenceOf(r, "/usr/lib/os-release").length, 0);
});

test("identifyOs: an absolute os-release symlink resolves inside the image root, never on the host", async () => {
  const r = await identifyTree({
    "etc/os-release": { link: "/usr/lib/os-release" },
    "usr/lib/os-release": WOLFI_OS_RELEASE,
  });
  assert.equal(r.os?.id, "wolfi");
  // A link to a path the image lacks dangles even though the host has /etc/hostname or similar.
  const r2 = await identifyTree({ "etc/os-release": { link: "/proc/self/root/etc/os-release" } });
  assert.equal(r2.os, null);
  assert.deepEqual(
    r2.findings.map((f) => f.code),
    ["release-link-dangling"],
  );
});

test("identifyOs: nothing found in an empty root: os null, every file checked in the documented order", async () => {
  const r = await identifyTree({});
  assert.equal(r.os, null);
  assert.equal(r.source, null);
  assert.equal(r.distroless, false);
  assert.deepEqual(r.hints, []);
  assert.deepEqual(r.findings, []);
  assert.deepEqual(
    r.evidence.map((e) => e.path),
    [
      "/etc/os-release",
      "/usr/lib/os-release",
      "/etc/system-release-cpe",
      "/etc/redhat-release",
      "/etc/centos-release",
      "/etc/rocky-release",
      "/etc/almalinux-release",
      "/etc/oracle-release",
      "/etc/fedora-release",
      "/etc/system-release",
      "/etc/lsb-release",
      "/etc/alpine-release",
      "/etc/debian_version",
      "/bin/busybox",
      "/etc/apk/repositories",
      "/var/lib/chisel/manifest.wall",
    ],
  );
  assert.ok(r.evidence.every((e) => !e.found));
});

test("identifyOs: a 0-byte /etc/os-release falls through to /usr/lib/os-release, a 0-byte one of those to the next source", async () => {
  const r = await identifyTree({ "etc/os-release": "", "usr/lib/os-release": FEDORA40_OS_RELEASE });
  assert.equal(r.source, "/usr/lib/os-release");
  assert.equal(r.os?.id, "fedora");
  assert.deepEqual(r.evidence[0], { path: "/etc/os-release", found: true, note: "empty" });
  assert.deepEqual(r.findings, [], "an empty file is not an error");

  const r2 = await identifyTree({
    "etc/os-release": "",
    "usr/lib/os-release": "# nothing here\n\n   \r\n",
    "etc/system-release-cpe": "",
    "etc/redhat-release": CENTOS7_RELEASE,
  });
  assert.equal(r2.source, "/etc/redhat-release");
  assert.equal(r2.os?.id, "centos");
  assert.equal(evidenceOf(r2, "/usr/lib/os-release")[0]?.note, "no content (blank or comment lines only)");

  // Keys with empty values only name nothing either.
  const r3 = await identifyTree({
    "etc/os-release": "ID=\"\"\nVERSION_ID=\nNAME=''\n",
    "etc/alpine-release": "3.20.3",
  });
  assert.equal(r3.source, "/etc/alpine-release");
  assert.deepEqual(
    r3.findings.map((f) => f.code),
    ["release-unparsable"],
  );
});

test("identifyOs: a symlink loop at /etc/os-release is a finding, not a crash, and the next source is used", async () => {
  const r = await identifyTree({
    "etc/os-release": { link: "os-release.d" },
    "etc/os-release.d": { link: "../etc/os-release" },
    "usr/lib/os-release": ALPINE_320,
  });
  assert.equal(r.source, "/usr/lib/os-release");
  assert.equal(r.os?.id, "alpine");
  assert.equal(r.findings.length, 1);
  assert.equal(r.findings[0]?.code, "release-link-loop");
  assert.equal(r.findings[0]?.path, "/etc/os-release");
  assert.match(r.findings[0]?.message ?? "", /symlink loop/);
  assert.deepEqual(r.evidence[0], {
    path: "/etc/os-release",
    found: false,
    note: "symlink loop (-> os-release.d)",
  });

  // A self-loop, and a loop through a directory link, with nothing else in the image.
  const r2 = await identifyTree({
    "etc/os-release": { link: "/etc/os-release" },
    "usr/lib": { link: "../usr/lib" },
  });
  assert.equal(r2.os, null);
  assert.deepEqual(
    r2.findings.map((f) => `${f.code} ${f.path}`),
    ["release-link-loop /etc/os-release"],
  );
  assert.deepEqual(evidenceOf(r2, "/usr/lib/os-release"), [{ path: "/usr/lib/os-release", found: false }]);
});

test("identifyOs: a dangling os-release link and a directory in place of a release file are findings", async () => {
  const r = await identifyTree({
    "etc/os-release": { link: "../usr/lib/os-release" },
    "etc/redhat-release": { dir: true },
    "etc/rocky-release": ROCKY9_RELEASE,
  });
  assert.equal(r.source, "/etc/rocky-release");
  assert.deepEqual(
    r.findings.map((f) => f.code),
    ["release-link-dangling", "release-not-file"],
  );
  assert.deepEqual(evidenceOf(r, "/etc/redhat-release"), [
    { path: "/etc/redhat-release", found: false, note: "not a regular file (directory)" },
  ]);
});

test("identifyOs: an I/O error reading a release file is a finding and the next source is tried; a bug is thrown", async () => {
  const root = await makeRoot({
    "etc/os-release": DEBIAN12_OS_RELEASE,
    "usr/lib/os-release": ARCH_OS_RELEASE,
  });
  const failing = new SpyFiles(root);
  failing.read = async (path: string, maxBytes: number) => {
    if (path === "/etc/os-release") {
      throw new OslessError("E_IO", "/etc/os-release: cannot read: EIO: i/o error", {
        details: { errno: "EIO" },
      });
    }
    return failing.inner.read(path, maxBytes);
  };
  const r = await identifyOs(failing);
  assert.equal(r.source, "/usr/lib/os-release");
  assert.equal(r.os?.id, "arch");
  assert.deepEqual(
    r.findings.map((f) => `${f.code} ${f.path}`),
    ["release-read-error /etc/os-release"],
  );
  assert.deepEqual(r.evidence[0], { path: "/etc/os-release", found: false, note: "read error" });

  const buggy = new SpyFiles(root);
  buggy.lstat = async () => {
    throw new TypeError("a bug");
  };
  await assert.rejects(identifyOs(buggy), TypeError);
});

test("identifyOs: release files are read at most 5 MiB: a 10 MB os-release is capped and still parsed", async () => {
  const junk = junkBytes(10 * 1024 * 1024);
  const root = await makeRoot({
    "etc/os-release": Buffer.concat([Buffer.from(ALPINE_320), junk]),
    "etc/apk/repositories": Buffer.concat([Buffer.from(ALPINE_REPOSITORIES), junk]),
  });
  const spy = new SpyFiles(root);
  const r = await identifyOs(spy);
  assert.equal(r.os?.id, "alpine");
  assert.equal(r.os?.versionId, "3.20.3");
  assert.equal(spy.maxAsked, RELEASE_READ_LIMIT);
  assert.equal(spy.maxGot, RELEASE_READ_LIMIT);
  assert.deepEqual(
    r.findings.map((f) => `${f.code} ${f.path}`),
    ["release-truncated /etc/os-release", "release-truncated /etc/apk/repositories"],
  );
  assert.match(r.evidence[0]?.note ?? "", /read the first 5 MiB of 10485\d\d\d bytes/);
  assert.deepEqual(r.hints, [{ kind: "apk-repositories-version", value: "3.20" }]);
});

test("identifyOs: a 10 MB junk os-release names nothing and the next source decides", async () => {
  // Printable junk with '=' but no release key, plus raw bytes: parsed (capped) and rejected quickly.
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 10 * 1024 * 1024; i++) {
    const l = `JUNK_${i}="${randomBytes(48).toString("base64")}"\n`;
    lines.push(l);
    size += l.length;
  }
  const root = await makeRoot({
    "etc/os-release": Buffer.concat([junkBytes(1000), Buffer.from(lines.join(""))]),
    "usr/lib/os-release": junkBytes(10 * 1024 * 1024),
    "etc/alpine-release": "3.20.3\n",
  });
  const spy = new SpyFiles(root);
  const t0 = performance.now();
  const r = await identifyOs(spy);
  const ms = performance.now() - t0;
  assert.equal(r.source, "/etc/alpine-release");
  assert.ok(spy.maxGot <= RELEASE_READ_LIMIT);
  assert.deepEqual(
    r.findings.map((f) => `${f.code} ${f.path}`),
    [
      "release-truncated /etc/os-release",
      "release-unparsable /etc/os-release",
      "release-truncated /usr/lib/os-release",
      "release-unparsable /usr/lib/os-release",
    ],
  );
  assert.ok(ms < 5000, `took ${ms} ms`);
});

test("identifyOs: a busybox-only root is identified by the version string in Debian's busybox-static binary", async () => {
  const bb = needTool("/bin/busybox", "busybox-static");
  // Oracle: the host's busybox names its own version in its usage line.
  const help = await run(bb, ["--help"], { allowFail: true });
  const oracle = /BusyBox v(\d+(?:\.\d+)+)/.exec(help.stdout + help.stderr)?.[1];
  assert.ok(oracle, "busybox --help names a version");
  const root = await makeRoot({
    "bin/busybox": { copy: bb },
    "bin/sh": { link: "busybox" },
    "bin/ls": { link: "/bin/busybox" },
  });
  const spy = new SpyFiles(root);
  const r = await identifyOs(spy);
  assert.equal(r.source, "/bin/busybox");
  assert.equal(r.os?.id, "busybox");
  assert.equal(r.os?.versionId, oracle);
  assert.equal(r.os?.prettyName, `BusyBox v${oracle}`);
  assert.ok(spy.maxAsked <= RELEASE_READ_LIMIT);
  assert.deepEqual(r.findings, []);

  // Busybox comes last: any release file wins over it.
  const r2 = await identifyTree({ "bin/busybox": { copy: bb }, "etc/alpine-release": "3.20.3\n" });
  assert.equal(r2.source, "/etc/alpine-release");
  assert.equal(evidenceOf(r2, "/bin/busybox").length, 0, "busybox is not even read");
});

test("identifyOs: a /bin/busybox without a version string names nothing", async () => {
  const r = await identifyTree({ "bin/busybox": Buffer.concat([Buffer.from("\x7fELF"), randomBytes(4096)]) });
  assert.equal(r.os, null);
  assert.deepEqual(evidenceOf(r, "/bin/busybox"), [
    { path: "/bin/busybox", found: true, note: "no BusyBox version string" },
  ]);
});

test("identifyOs: the chisel manifest (zstd jsonwall) is a hint with its package count and base-files version", async () => {
  const zstd = needTool("zstd", "zstd");
  const wall = [
    '{"jsonwall":"1.0","schema":"1.0","count":7}',
    '{"kind":"content","slice":"base-files_release-info","path":"/etc/lsb-release"}',
    '{"kind":"package","name":"base-files","version":"13ubuntu10","sha256":"0000000000000000000000000000000000000000000000000000000000000000","arch":"amd64"}',
    '{"kind":"package","name":"ca-certificates","version":"20240203","sha256":"1111111111111111111111111111111111111111111111111111111111111111","arch":"all"}',
    '{"kind":"package","name":"libc6","version":"2.39-0ubuntu8.3","sha256":"2222222222222222222222222222222222222222222222222222222222222222","arch":"amd64"}',
    '{"kind":"path","path":"/etc/lsb-release","mode":"0644","slices":["base-files_release-info"],"sha256":"3333333333333333333333333333333333333333333333333333333333333333","size":104}',
    '{"kind":"slice","name":"base-files_release-info"}',
  ].join("\n");
  // Compressed by the zstd tool (run() decodes stdout as text, so through files).
  const dir = await tmpdir("chisel");
  await writeFile(join(dir, "manifest"), `${wall}\n`);
  await run(zstd, ["-q", "-19", join(dir, "manifest"), "-o", join(dir, "manifest.wall")]);
  const wallZst = await readFile(join(dir, "manifest.wall"));
  assert.ok(wallZst.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])));

  const r = await identifyTree({
    "var/lib/chisel/manifest.wall": wallZst,
    "etc/lsb-release": UBUNTU2404_LSB,
  });
  assert.equal(r.os?.id, "ubuntu");
  assert.deepEqual(r.hints, [
    { kind: "chisel-manifest", value: "/var/lib/chisel/manifest.wall" },
    { kind: "chisel-packages", value: "3" },
    { kind: "chisel-base-files", value: "13ubuntu10" },
  ]);
  assert.deepEqual(r.findings, []);
  assert.deepEqual(evidenceOf(r, "/var/lib/chisel/manifest.wall"), [
    { path: "/var/lib/chisel/manifest.wall", found: true, note: "3 package(s), base-files 13ubuntu10" },
  ]);

  // A chisel manifest alone does not identify an OS.
  const r2 = await identifyTree({ "var/lib/chisel/manifest.wall": wallZst });
  assert.equal(r2.os, null);
  assert.equal(r2.hints[0]?.kind, "chisel-manifest");

  // Corrupt manifests: presence is still a hint, the damage a finding.
  const notZstd = await identifyTree({ "var/lib/chisel/manifest.wall": `${wall}\n` });
  assert.deepEqual(notZstd.hints, [{ kind: "chisel-manifest", value: "/var/lib/chisel/manifest.wall" }]);
  assert.deepEqual(
    notZstd.findings.map((f) => f.code),
    ["chisel-manifest-corrupt"],
  );
  assert.match(notZstd.findings[0]?.message ?? "", /not zstd-compressed/);
  const truncated = await identifyTree({
    "var/lib/chisel/manifest.wall": wallZst.subarray(0, Math.floor(wallZst.length / 2)),
  });
  assert.deepEqual(
    truncated.findings.map((f) => f.code),
    ["chisel-manifest-corrupt"],
  );
  assert.equal(truncated.hints.length, 1);
});

test("identifyOs: the host's own root agrees with bash sourcing /etc/os-release (and the Debian point release)", async () => {
  const bash = needTool("bash", "bash");
  const out = await run(bash, [
    "-c",
    '. /etc/os-release; printf "%s\\n%s\\n%s\\n" "$ID" "$VERSION_ID" "$PRETTY_NAME"; cat /etc/debian_version 2>/dev/null || true',
  ]);
  const [bashId, bashVersionId, bashPretty, debianVersion] = out.stdout.split("\n");
  const r = await identifyOs(new DirFiles("/"));
  assert.equal(r.source, "/etc/os-release");
  assert.equal(r.os?.id ?? "", bashId);
  assert.equal(r.os?.prettyName ?? "", bashPretty);
  const point = bashId === "debian" && /^\d+(\.\d+)?$/.test((debianVersion ?? "").trim());
  assert.equal(r.os?.versionId ?? "", point ? (debianVersion ?? "").trim() : bashVersionId);
});

// ---------------------------------------------------------------------------------------------------------------
// Parsers.

/** Every key of `text` as bash sees it after sourcing the file (values printed NUL-separated). */
async function bashValues(text: string, keys: string[]): Promise<Record<string, string>> {
  const bash = needTool("bash", "bash");
  const dir = await tmpdir("os-bash");
  const file = join(dir, "os-release");
  await writeFile(file, text);
  const script = `. "$1"; shift; for k in "$@"; do printf '%s\\0' "\${!k}"; done`;
  const out = await run(bash, ["-c", script, "bash", file, ...keys]);
  const vals = out.stdout.split("\0");
  return Object.fromEntries(keys.map((k, i) => [k, vals[i] ?? "<missing>"]));
}

test("parseOsRelease: the host's /etc/os-release gives what bash gives when sourcing it", async () => {
  const text = await readFile("/etc/os-release", "utf8");
  const r = parseOsRelease(text);
  assert.ok(r);
  const keys = Object.keys(r.fields);
  assert.ok(keys.includes("ID") && keys.includes("PRETTY_NAME"));
  assert.deepEqual(plain(r.fields), await bashValues(text, keys));
});

test("parseOsRelease: quoting and escapes match the shell (bash as the oracle)", async () => {
  const text = [
    'NAME="Foo \\"Bar\\" \\$HOME \\\\ \\`x\\`"',
    "PRETTY_NAME='single \"quoted\" $HOME \\n'",
    "VARIANT='kept \\\\ \\$x \\`y\\`'",
    "ID=plain",
    'ID_LIKE="  a   b\tc "',
    'VERSION="1.0 (with = sign)"  ',
    'EMPTY=""',
    "BARE_EMPTY=",
    "DUP=first",
    "DUP=second",
    'URL="https://example.org/?a=b&c=d"',
    "# a comment",
    "   # an indented comment",
    "",
    "LAST=no-final-newline",
  ].join("\n"); // bash keeps a CR in values: CRLF is tested apart
  const r = parseOsRelease(text);
  assert.ok(r);
  assert.deepEqual(plain(r.fields), await bashValues(text, Object.keys(r.fields)));
  assert.equal(r.name, 'Foo "Bar" $HOME \\ `x`');
  assert.equal(r.prettyName, 'single "quoted" $HOME \\n');
  assert.equal(r.fields.VARIANT, "kept \\\\ \\$x \\`y\\`", "no escapes inside single quotes");
  assert.deepEqual(r.idLike, ["a", "b", "c"]);
  assert.equal(r.version, "1.0 (with = sign)");
  assert.equal(r.fields.EMPTY, "");
  assert.equal(r.fields.DUP, "second");
  assert.equal(r.fields.LAST, "no-final-newline");
  assert.equal(r.versionId, null);
});

test("parseOsRelease: tolerant of CRLF, a BOM, spaces around '=', unmatched quotes; null when nothing is named", () => {
  const crlf = parseOsRelease('\ufeffID="alpine"\r\nVERSION_ID=3.20.3\r\n');
  assert.equal(crlf?.id, "alpine");
  assert.equal(crlf?.versionId, "3.20.3");
  assert.equal(parseOsRelease('ID = "debian" \nVERSION_ID= "12"   ')?.versionId, "12");
  assert.equal(parseOsRelease('NAME="unterminated')?.name, '"unterminated');
  assert.equal(parseOsRelease("NAME=\"mixed'")?.name, "\"mixed'");
  assert.equal(parseOsRelease('ID="')?.id, '"');
  // NAME + ID_LIKE alone count.
  const nameOnly = parseOsRelease('NAME="Some Linux"\nID_LIKE="debian ubuntu"\n');
  assert.equal(nameOnly?.name, "Some Linux");
  assert.deepEqual(nameOnly?.idLike, ["debian", "ubuntu"]);
  assert.equal(nameOnly?.id, null);
  for (const empty of [
    "",
    "\n\n",
    "# only\n# comments\n",
    "ID=\"\"\nVERSION_ID=''\n",
    "FOO=bar\n",
    "no equals sign\n",
    "=value\n",
  ]) {
    assert.equal(parseOsRelease(empty), null, JSON.stringify(empty));
  }
  // Keys are data: __proto__ does not touch the prototype.
  const proto = parseOsRelease("__proto__=polluted\nconstructor=x\nID=a\n");
  assert.equal(Object.getOwnPropertyDescriptor(proto?.fields, "__proto__")?.value, "polluted");
  assert.equal(Object.getPrototypeOf(proto?.fields), null);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("parseRedhatRelease: the Red Hat family's one-line files", () => {
  const cases: [string, Partial<OsRelease> | null][] = [
    ["CentOS release 6.10 (Final)", { id: "centos", versionId: "6.10", version: "6.10", name: "CentOS" }],
    ["CentOS Stream release 9", { id: "centos", versionId: "9", version: "9" }],
    [
      "Red Hat Enterprise Linux release 10.0 (Coughlan)",
      { id: "rhel", versionId: "10.0", version: "10.0 (Coughlan)", idLike: ["rhel"] },
    ],
    ["Red Hat Enterprise Linux Server release 5 (Tikanga)", { id: "rhel", versionId: "5" }],
    ["Scientific Linux release 7.9 (Nitrogen)", { id: "scientific", versionId: "7.9" }],
    ["Rocky Linux release 8.10 (Green Obsidian)", { id: "rocky", versionId: "8.10" }],
    ["AlmaLinux release 8.10 (Cerulean Leopard)", { id: "almalinux", versionId: "8.10" }],
    ["Oracle Linux Server release 8.10", { id: "ol", versionId: "8.10", idLike: ["ol", "rhel"] }],
    ["Amazon Linux release 2 (Karoo)", { id: "amzn", versionId: "2" }],
    ["EuroLinux release 9.2 (Tirana)", { id: "eurolinux", versionId: "9.2", name: "EuroLinux" }],
    [
      "\n  Fedora release 40 (Forty)  \r\n",
      { id: "fedora", versionId: "40", prettyName: "Fedora release 40 (Forty)" },
    ],
    ["CentOS Linux release (Core)", null],
    ["release 7", null],
    ["", null],
    [`${"A".repeat(600)} release 1`, null],
  ];
  for (const [line, want] of cases) {
    const r = parseRedhatRelease(line);
    if (want === null) {
      assert.equal(r, null, line);
      continue;
    }
    assert.ok(r, line);
    for (const [k, v] of Object.entries(want))
      assert.deepEqual(r[k as keyof OsRelease], v, `${k} of ${line}`);
    assert.deepEqual(plain(r.fields), {});
  }
});

test("parseSystemReleaseCpe: CPE 2.2 URIs and CPE 2.3 strings", () => {
  const cases: [string, Partial<OsRelease> | null][] = [
    ["cpe:/o:centos:linux:6:GA\n", { id: "centos", name: "linux", versionId: "6" }],
    ["cpe:/o:centos:centos:7", { id: "centos", versionId: "7" }],
    ["cpe:/o:redhat:enterprise_linux:8.9:ga", { id: "rhel", name: "enterprise_linux", versionId: "8.9" }],
    ["cpe:/o:oracle:linux:8:10:server", { id: "ol", versionId: "8" }],
    ["cpe:/o:fedoraproject:fedora:40", { id: "fedora", versionId: "40" }],
    [
      "cpe:2.3:o:amazon:amazon_linux:2023",
      { id: "amzn", versionId: "2023", cpeName: "cpe:2.3:o:amazon:amazon_linux:2023" },
    ],
    ["cpe:2.3:o:opensuse:tumbleweed:*:*:*:*:*:*:*:*", { id: "opensuse", versionId: null }],
    ["cpe:2.3:o:vendor:prod\\:uct:1\\.0:*", { id: "vendor", name: "prod:uct", versionId: "1.0" }],
    ["cpe:/o:acme%2dcorp:os:1", { id: "acme-corp", versionId: "1" }],
    ["cpe:/a:apache:httpd:2.4", null],
    ["cpe:/o::linux:6", null],
    ["Amazon Linux release 2", null],
    ["", null],
  ];
  for (const [text, want] of cases) {
    const r = parseSystemReleaseCpe(text);
    if (want === null) {
      assert.equal(r, null, text);
      continue;
    }
    assert.ok(r, text);
    for (const [k, v] of Object.entries(want))
      assert.deepEqual(r[k as keyof OsRelease], v, `${k} of ${text}`);
  }
});

test("parseLsbRelease: DISTRIB_* keys; null without DISTRIB_ID", () => {
  const r = parseLsbRelease('DISTRIB_ID="LinuxMint"\r\nDISTRIB_RELEASE=21.3\r\nDISTRIB_CODENAME=virginia');
  assert.equal(r?.id, "linuxmint");
  assert.equal(r?.name, "LinuxMint");
  assert.equal(r?.versionId, "21.3");
  assert.equal(r?.versionCodename, "virginia");
  assert.equal(r?.prettyName, null);
  assert.equal(parseLsbRelease("DISTRIB_RELEASE=24.04\n"), null);
  assert.equal(parseLsbRelease(""), null);
});

test("apkRepositoryVersions: the Alpine release of the repository URLs, once each", () => {
  assert.deepEqual(
    apkRepositoryVersions(
      [
        "#/media/cdrom/apks",
        "https://dl-cdn.alpinelinux.org/alpine/v3.20/main",
        "http://mirror.example.org/pub/alpine/v3.20/community",
        "@testing https://dl-cdn.alpinelinux.org/alpine/edge/testing",
        "# https://dl-cdn.alpinelinux.org/alpine/v3.19/main",
        "https://packages.wolfi.dev/os",
        "/local/repo",
      ].join("\n"),
    ),
    ["3.20", "edge"],
  );
  assert.deepEqual(apkRepositoryVersions(""), []);
});

test("parseBusyBox: the version string anywhere in the bytes", () => {
  const bin = Buffer.concat([
    randomBytes(1000),
    Buffer.from("\0BusyBox v1.36.1 (2024-06-10 07:11:47 UTC)\0"),
    randomBytes(10),
  ]);
  const r = parseBusyBox(bin);
  assert.equal(r?.versionId, "1.36.1");
  assert.equal(r?.prettyName, "BusyBox v1.36.1");
  assert.equal(parseBusyBox(Buffer.from("BusyBox v")), null);
  assert.equal(parseBusyBox(new Uint8Array(0)), null);
});

// ---------------------------------------------------------------------------------------------------------------
// Fuzz.

test("parseOsRelease fuzz: random text never throws; results are well-formed", () => {
  const seed = Number(process.env.OSLESS_FUZZ_SEED ?? Date.now() % 1e9);
  const rnd = prng(seed);
  const alphabet = [
    '"',
    "'",
    "=",
    "\\",
    "\r",
    "\n",
    " ",
    "\t",
    "#",
    "$",
    "`",
    "I",
    "D",
    "_",
    "a",
    "é",
    "\u0000",
    "\ufeff",
    "\ud800",
  ];
  const keys = ["ID", "NAME", "VERSION_ID", "ID_LIKE", "PRETTY_NAME", "__proto__", "constructor", "X"];
  for (let i = 0; i < 3000; i++) {
    let s = "";
    const n = Math.floor(rnd() * 200);
    for (let j = 0; j < n; j++) {
      const p = rnd();
      if (p < 0.1) s += `${keys[Math.floor(rnd() * keys.length)]}=`;
      else if (p < 0.15) s += String.fromCharCode(Math.floor(rnd() * 0x10000));
      else s += alphabet[Math.floor(rnd() * alphabet.length)];
    }
    let r: OsRelease | null;
    try {
      r = parseOsRelease(s);
    } catch (e) {
      assert.fail(`seed ${seed} input ${JSON.stringify(s)} threw ${(e as Error).message}`);
    }
    if (r === null) continue;
    const f = r.fields;
    const releaseKeys = ["ID", "NAME", "PRETTY_NAME", "VERSION_ID", "VERSION", "ID_LIKE", "VERSION_CODENAME"];
    const more = ["BUILD_ID", "CPE_NAME", "VARIANT_ID", "VARIANT", "IMAGE_ID", "IMAGE_VERSION"];
    assert.ok(
      [...releaseKeys, ...more].some((k) => Object.hasOwn(f, k) && f[k] !== ""),
      `seed ${seed}: a release names something`,
    );
    // The typed fields are the file's keys, "" as null.
    const pairs: [string | null, string][] = [
      [r.id, "ID"],
      [r.name, "NAME"],
      [r.prettyName, "PRETTY_NAME"],
      [r.versionId, "VERSION_ID"],
      [r.version, "VERSION"],
      [r.versionCodename, "VERSION_CODENAME"],
      [r.buildId, "BUILD_ID"],
      [r.cpeName, "CPE_NAME"],
      [r.variantId, "VARIANT_ID"],
    ];
    for (const [v, k] of pairs) {
      assert.equal(v, Object.hasOwn(f, k) && f[k] !== "" ? f[k] : null, `seed ${seed}: ${k}`);
    }
    assert.ok(
      r.idLike.every((x) => x !== "" && !/\s/.test(x)),
      `seed ${seed}`,
    );
  }
});

test("parseOsRelease fuzz: double-quoted, escaped values of any text round-trip exactly", () => {
  const seed = Number(process.env.OSLESS_FUZZ_SEED ?? Date.now() % 1e9);
  const rnd = prng(seed);
  const chars = ['"', "'", "\\", "$", "`", " ", "\t", "=", "#", "a", "Z", "0", "é", "\u0000", "\r"];
  for (let i = 0; i < 1000; i++) {
    const want: Record<string, string> = { ID: "x" };
    const nkeys = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < nkeys; k++) {
      let v = "";
      const n = Math.floor(rnd() * 30);
      for (let j = 0; j < n; j++) v += chars[Math.floor(rnd() * chars.length)];
      want[`K${k}_${Math.floor(rnd() * 100)}`] = v;
    }
    const text = Object.entries(want)
      .map(([k, v]) => `${k}="${v.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`)
      .join(rnd() < 0.5 ? "\n" : "\r\n");
    const r = parseOsRelease(text);
    assert.deepEqual(plain(r?.fields ?? {}), want, `seed ${seed}: ${JSON.stringify(text)}`);
  }
});
