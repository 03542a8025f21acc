//! The CycloneDX 1.5 JSON SBOM of an image's Debian packages, written so that grype
//! (`grype sbom:FILE`) and trivy (`trivy sbom FILE`) match them against Debian's advisories.
//!
//! What each scanner reads, and so what is promised here:
//!
//! - The distribution: one `operating-system` component, name = os-release `ID`, version =
//!   `VERSION_ID` (syft's CycloneDX decoder, used by grype, and trivy's both read these two).
//!   Trivy takes as OS packages those the OS component depends on, so it depends on every one.
//! - Each package: a `library` component whose `purl` is the one syft writes,
//!   `pkg:deb/ID/NAME@VERSION?arch=ARCH&distro=ID-VERSION_ID&upstream=SOURCE[@SRCVERSION]`,
//!   percent-encoded byte for byte as syft writes it: all but the purl spec's unreserved
//!   characters (`+` is `%2B`, the `@` inside `upstream` is `%40`, an epoch's `:` is `%3A`;
//!   the current purl spec would leave that `:` bare, and every purl decoder reads both
//!   alike, so syft's form is kept for purls that compare equal as strings with syft's).
//!   Grype matches Debian advisories by source package: it reads `upstream` from the purl. `upstream` is left out when source name and version are the
//!   binary's own, as syft does (dpkg then writes no `Source:` field).
//! - The source package for trivy, which matches by source name and version and reads them
//!   from the properties `aquasecurity:trivy:SrcName`, `SrcVersion`, `SrcRelease` and
//!   `SrcEpoch`: the source version is split as trivy's own dpkg analyser splits it
//!   (`1:2.38.1-5+deb12u1` → epoch `1`, version `2.38.1`, release `5+deb12u1`; epoch 0 is
//!   left out, as trivy leaves it out) and trivy joins them back as `epoch:version-release`.
//!
//! Without an os-release (`os` is `None`) the SBOM is still valid CycloneDX but names no
//! distribution: no `operating-system` component, purls in the `debian` namespace without a
//! `distro` qualifier, and the image depends on the packages directly. Scanners then have no
//! release to match advisories against (trivy ignores OS packages without an OS), which is
//! the truth of such an image.
//!
//! The same input gives the same bytes: no serial number, no clock (the timestamp is the
//! image's own epoch, e.g. `SOURCE_DATE_EPOCH`), components in purl order and each package
//! once (packages with the same purl are one component).

use serde::Serialize;

/// The image the SBOM describes (its `metadata.component`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub name: String,
    pub version: String,
    /// Seconds since 1970 (UTC): the SBOM's timestamp, none when `None`.
    pub epoch: Option<i64>,
}

/// The distribution, from `etc/os-release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Os {
    /// `ID`, e.g. `debian`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`; empty where the release has none (Debian testing and sid).
    pub version_id: String,
}

/// An installed Debian binary package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// The source package's name; the package's own name when it has no `Source:` field
    /// (empty is read the same way).
    pub source: String,
    /// The source package's version; the package's own version when `Source:` names none
    /// (empty is read the same way).
    pub source_version: String,
}

impl Package {
    fn source_name(&self) -> &str {
        if self.source.is_empty() {
            &self.name
        } else {
            &self.source
        }
    }

    fn source_version(&self) -> &str {
        if self.source_version.is_empty() {
            &self.version
        } else {
            &self.source_version
        }
    }
}

/// The SBOM as pretty-printed JSON with a trailing newline; see the module documentation for
/// what it holds.
pub fn render(image: &Image, os: Option<&Os>, packages: &[Package]) -> String {
    let mut libraries: Vec<Component> = packages.iter().map(|p| library(os, p)).collect();
    // Components order by bom-ref (the purl) first, then by the rest: the same bytes whatever
    // order the packages came in, even for duplicates that differ past the purl.
    libraries.sort();
    libraries.dedup_by(|a, b| a.bom_ref == b.bom_ref);
    let package_refs: Vec<String> = libraries.iter().filter_map(|c| c.bom_ref.clone()).collect();

    let root_ref = format!("image:{}@{}", image.name, image.version);
    let root = Component::new("container", &image.name, &image.version).with_ref(root_ref);
    let mut components = Vec::with_capacity(libraries.len() + 1);
    let mut dependencies = Vec::new();
    match os {
        Some(os) => {
            let system = operating_system(os);
            let system_ref = system.bom_ref.clone().unwrap_or_default();
            dependencies.push(Dependency::new(&root, vec![system_ref.clone()]));
            dependencies.push(Dependency { reference: system_ref, depends_on: package_refs });
            components.push(system);
        }
        None => dependencies.push(Dependency::new(&root, package_refs)),
    }
    components.extend(libraries);

    let tool = Component::new("application", "gild", env!("CARGO_PKG_VERSION"));
    let metadata =
        Metadata { timestamp: timestamp(image.epoch), tools: Tools { components: vec![tool] }, component: root };
    let bom = Bom { bom_format: "CycloneDX", spec_version: "1.5", version: 1, metadata, components, dependencies };
    let mut json = serde_json::to_string_pretty(&bom).expect("a BOM of strings and numbers always serialises");
    json.push('\n');
    json
}

/// `ID` and `VERSION_ID` from the text of an `etc/os-release` file (shell-style `KEY=value`
/// lines, the value optionally quoted with `"` or `'`; in `"…"` a backslash escapes
/// `"`, `\`, `$` and `` ` ``). The last assignment of a key wins, as in a shell. `None` when
/// there is no non-empty `ID`; a missing `VERSION_ID` (testing, sid) is an empty one.
pub fn os_release(text: &str) -> Option<Os> {
    let (mut id, mut version_id) = (String::new(), String::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some(("ID", value)) => id = shell_value(value),
            Some(("VERSION_ID", value)) => version_id = shell_value(value),
            _ => {}
        }
    }
    (!id.is_empty()).then_some(Os { id, version_id })
}

/// The package URL of `package` on `os`, as syft writes it for a Debian package (see the
/// module documentation); the `bom-ref` and `purl` of its component.
pub fn purl(os: Option<&Os>, package: &Package) -> String {
    let mut purl = format!("pkg:deb/{}/{}@{}", encode(vendor(os)), encode(&package.name), encode(&package.version));
    let distro = os.map(|os| match os.version_id.as_str() {
        "" => vendor(Some(os)).to_string(),
        version => format!("{}-{version}", vendor(Some(os))),
    });
    // Keys in lexical order, as the purl spec's canonical form has them; empty ones left out.
    let qualifiers = [("arch", Some(package.arch.clone())), ("distro", distro), ("upstream", upstream(package))];
    let mut separator = '?';
    for (key, value) in qualifiers {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            purl.push(separator);
            purl.push_str(key);
            purl.push('=');
            purl.push_str(&encode(&value));
            separator = '&';
        }
    }
    purl
}

/// The purl namespace: the os-release `ID`, `debian` when there is none.
fn vendor(os: Option<&Os>) -> &str {
    os.map(|os| os.id.as_str()).filter(|id| !id.is_empty()).unwrap_or("debian")
}

/// syft's `upstream` qualifier: `SOURCE@SRCVERSION` when the source version differs from the
/// binary's (binNMUs, `Source: glibc (2.36-9)`), `SOURCE` when only the name does.
fn upstream(package: &Package) -> Option<String> {
    let (name, version) = (package.source_name(), package.source_version());
    if version != package.version {
        Some(format!("{name}@{version}"))
    } else if name != package.name {
        Some(name.to_string())
    } else {
        None
    }
}

/// Percent-encodes all but the purl spec's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn library(os: Option<&Os>, package: &Package) -> Component {
    let purl = purl(os, package);
    let mut component = Component::new("library", &package.name, &package.version).with_ref(purl.clone());
    component.purl = Some(purl);
    component.properties = trivy_source(package);
    component
}

fn operating_system(os: &Os) -> Component {
    let id = vendor(Some(os));
    let bom_ref = match os.version_id.as_str() {
        "" => format!("os:{id}"),
        version => format!("os:{id}@{version}"),
    };
    Component::new("operating-system", id, &os.version_id).with_ref(bom_ref)
}

/// trivy's source-package properties, sorted by name as trivy writes them.
fn trivy_source(package: &Package) -> Vec<Property> {
    let (epoch, version, release) = split_version(package.source_version());
    let mut properties = Vec::with_capacity(4);
    if let Some(epoch) = epoch {
        properties.push(Property::trivy("SrcEpoch", epoch.to_string()));
    }
    properties.push(Property::trivy("SrcName", package.source_name().to_string()));
    if let Some(release) = release {
        properties.push(Property::trivy("SrcRelease", release.to_string()));
    }
    properties.push(Property::trivy("SrcVersion", version.to_string()));
    properties
}

/// `[epoch:]upstream[-revision]` split as dpkg splits it (epoch before the first `:`,
/// revision after the last `-`), epoch 0 as none. A version whose epoch is not a number is
/// kept whole as the upstream part, so that trivy's `epoch:version-release` rebuilds it as it
/// was rather than rejecting the SBOM over an unparsable `SrcEpoch`.
fn split_version(v: &str) -> (Option<u32>, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        None => (0, v),
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => match e.parse::<u32>() {
            Ok(n) => (n, rest),
            Err(_) => return (None, v, None),
        },
        Some(_) => return (None, v, None),
    };
    let epoch = (epoch != 0).then_some(epoch);
    match rest.rsplit_once('-') {
        Some((upstream, revision)) if !upstream.is_empty() && !revision.is_empty() => (epoch, upstream, Some(revision)),
        _ => (epoch, rest, None),
    }
}

/// RFC 3339 UTC; left out when the year would not fit its four digits.
fn timestamp(epoch: Option<i64>) -> Option<String> {
    const FIRST: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const LAST: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    epoch.filter(|s| (FIRST..=LAST).contains(s)).map(crate::date::format_timestamp)
}

#[derive(Serialize)]
struct Bom {
    #[serde(rename = "bomFormat")]
    bom_format: &'static str,
    #[serde(rename = "specVersion")]
    spec_version: &'static str,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    tools: Tools,
    component: Component,
}

/// The CycloneDX 1.5 form of `tools` (the array form is deprecated).
#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

/// Field order is both the JSON's and the sort order: bom-ref first.
#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Component {
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

impl Component {
    /// A component without bom-ref; an empty version is left out.
    fn new(kind: &'static str, name: &str, version: &str) -> Component {
        let version = (!version.is_empty()).then(|| version.to_string());
        Component { bom_ref: None, kind, name: name.to_string(), version, purl: None, properties: Vec::new() }
    }

    fn with_ref(self, bom_ref: String) -> Component {
        Component { bom_ref: Some(bom_ref), ..self }
    }
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct Property {
    name: String,
    value: String,
}

impl Property {
    fn trivy(name: &str, value: String) -> Property {
        Property { name: format!("aquasecurity:trivy:{name}"), value }
    }
}

#[derive(Serialize)]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(rename = "dependsOn")]
    depends_on: Vec<String>,
}

impl Dependency {
    fn new(of: &Component, depends_on: Vec<String>) -> Dependency {
        Dependency { reference: of.bom_ref.clone().unwrap_or_default(), depends_on }
    }
}

/// In `"…"`: `\"`, `\\`, `\$` and `` \` `` stand for the character; in `'…'` nothing is special;
/// unquoted, the value is taken as written.
fn shell_value(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return raw.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(&next)) if "\"\\$`".contains(next) => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::{require, Need};
    use serde_json::{json, Value};

    fn pkg(name: &str, version: &str, arch: &str, source: &str, source_version: &str) -> Package {
        let s = |x: &str| x.to_string();
        Package {
            name: s(name),
            version: s(version),
            arch: s(arch),
            source: s(source),
            source_version: s(source_version),
        }
    }

    fn bookworm() -> Os {
        Os { id: "debian".into(), version_id: "12".into() }
    }

    fn image() -> Image {
        Image { name: "web".into(), version: "1.4.0".into(), epoch: Some(1_763_683_200) }
    }

    /// A few of bookworm's packages: plain, from another source, binNMU'd, epoch'd.
    fn packages() -> Vec<Package> {
        vec![
            pkg("libc6", "2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14"),
            pkg("git", "1:2.39.5-0+deb12u2", "amd64", "git", "1:2.39.5-0+deb12u2"),
            pkg("libgcrypt20", "1.10.1-3+b1", "amd64", "libgcrypt20", "1.10.1-3"),
            pkg("base-files", "12.4+deb12u12", "amd64", "base-files", "12.4+deb12u12"),
            pkg("tzdata", "2025b-0+deb12u2", "all", "", ""),
            pkg("libstdc++6", "12.2.0-14+deb12u1", "amd64", "gcc-12", "12.2.0-14+deb12u1"),
        ]
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("render writes JSON")
    }

    fn library_named<'a>(bom: &'a Value, name: &str) -> &'a Value {
        let components = bom["components"].as_array().expect("components");
        components.iter().find(|c| c["name"] == name && c["type"] == "library").expect("the package's component")
    }

    #[test]
    fn a_package_from_another_source_has_syft_purl_and_trivy_properties() {
        let bom = parse(&render(&image(), Some(&bookworm()), &packages()));
        let purl = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc";
        assert_eq!(
            *library_named(&bom, "libc6"),
            json!({
                "bom-ref": purl,
                "type": "library",
                "name": "libc6",
                "version": "2.36-9+deb12u14",
                "purl": purl,
                "properties": [
                    {"name": "aquasecurity:trivy:SrcName", "value": "glibc"},
                    {"name": "aquasecurity:trivy:SrcRelease", "value": "9+deb12u14"},
                    {"name": "aquasecurity:trivy:SrcVersion", "value": "2.36"},
                ]
            })
        );
    }

    #[test]
    fn an_epoch_is_encoded_in_the_purl_and_split_out_for_trivy() {
        let bom = parse(&render(&image(), Some(&bookworm()), &packages()));
        let git = library_named(&bom, "git");
        assert_eq!(git["version"], "1:2.39.5-0+deb12u2");
        assert_eq!(git["purl"], "pkg:deb/debian/git@1%3A2.39.5-0%2Bdeb12u2?arch=amd64&distro=debian-12");
        assert_eq!(
            git["properties"],
            json!([
                {"name": "aquasecurity:trivy:SrcEpoch", "value": "1"},
                {"name": "aquasecurity:trivy:SrcName", "value": "git"},
                {"name": "aquasecurity:trivy:SrcRelease", "value": "0+deb12u2"},
                {"name": "aquasecurity:trivy:SrcVersion", "value": "2.39.5"},
            ])
        );
        let p = pkg("git-man", "1:2.38.1-5+deb12u1", "all", "git", "1:2.38.1-5+deb12u1");
        assert_eq!(
            purl(Some(&bookworm()), &p),
            "pkg:deb/debian/git-man@1%3A2.38.1-5%2Bdeb12u1?arch=all&distro=debian-12&upstream=git"
        );
    }

    #[test]
    fn upstream_carries_the_source_version_only_when_it_differs() {
        let os = bookworm();
        let binnmu = pkg("libgcrypt20", "1.10.1-3+b1", "amd64", "libgcrypt20", "1.10.1-3");
        assert_eq!(
            purl(Some(&os), &binnmu),
            "pkg:deb/debian/libgcrypt20@1.10.1-3%2Bb1?arch=amd64&distro=debian-12&upstream=libgcrypt20%401.10.1-3"
        );
        let other = pkg("libc6", "2.36-9+deb12u14+b1", "amd64", "glibc", "2.36-9+deb12u14");
        assert!(purl(Some(&os), &other).ends_with("&upstream=glibc%402.36-9%2Bdeb12u14"));
        let own = pkg("tzdata", "2025b-0+deb12u2", "all", "", "");
        assert_eq!(purl(Some(&os), &own), "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all&distro=debian-12");
        let plus = pkg("libstdc++6", "12.2.0-14", "amd64", "gcc-12", "");
        assert_eq!(
            purl(Some(&os), &plus),
            "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12"
        );
    }

    #[test]
    fn source_versions_split_as_trivy_splits_them() {
        assert_eq!(split_version("2.36-9+deb12u14"), (None, "2.36", Some("9+deb12u14")));
        assert_eq!(split_version("1:2.38.1-5+deb12u1"), (Some(1), "2.38.1", Some("5+deb12u1")));
        assert_eq!(split_version("0:1.2-3"), (None, "1.2", Some("3")));
        assert_eq!(split_version("12.4+deb12u12"), (None, "12.4+deb12u12", None));
        assert_eq!(split_version("1:2.0-rc1-1-2"), (Some(1), "2.0-rc1-1", Some("2")));
        assert_eq!(split_version("x:1.0-1"), (None, "x:1.0-1", None));
        assert_eq!(split_version("99999999999:1.0-1"), (None, "99999999999:1.0-1", None));
        assert_eq!(split_version("-1"), (None, "-1", None));
    }

    #[test]
    fn the_document_has_its_fixed_frame() {
        let bom = parse(&render(&image(), Some(&bookworm()), &packages()));
        assert_eq!(bom["bomFormat"], "CycloneDX");
        assert_eq!(bom["specVersion"], "1.5");
        assert_eq!(bom["version"], 1);
        assert!(bom.get("serialNumber").is_none());
        let metadata = &bom["metadata"];
        assert_eq!(metadata["timestamp"], "2025-11-21T00:00:00Z");
        assert_eq!(
            metadata["component"],
            json!({"bom-ref": "image:web@1.4.0", "type": "container", "name": "web", "version": "1.4.0"})
        );
        let tool = json!({"type": "application", "name": "gild", "version": env!("CARGO_PKG_VERSION")});
        assert_eq!(metadata["tools"], json!({"components": [tool]}));
        assert_eq!(
            bom["components"][0],
            json!({"bom-ref": "os:debian@12", "type": "operating-system", "name": "debian", "version": "12"})
        );
        let no_epoch = Image { epoch: None, ..image() };
        assert!(parse(&render(&no_epoch, Some(&bookworm()), &[]))["metadata"].get("timestamp").is_none());
        assert!(timestamp(Some(253_402_300_800)).is_none());
    }

    #[test]
    fn output_is_sorted_and_the_same_for_any_input_order() {
        let mut shuffled = packages();
        shuffled.reverse();
        shuffled.swap(1, 4);
        let text = render(&image(), Some(&bookworm()), &packages());
        assert_eq!(text, render(&image(), Some(&bookworm()), &shuffled));
        assert!(text.ends_with("}\n"));

        let bom = parse(&text);
        let purls: Vec<&str> = bom["components"].as_array().expect("components")[1..]
            .iter()
            .map(|c| c["purl"].as_str().expect("every library has a purl"))
            .collect();
        assert_eq!(purls.len(), 6);
        assert!(purls.windows(2).all(|w| w[0] < w[1]), "{purls:?}");
        let deps = bom["dependencies"].as_array().expect("dependencies");
        assert_eq!(deps[0], json!({"ref": "image:web@1.4.0", "dependsOn": ["os:debian@12"]}));
        assert_eq!(deps[1]["ref"], "os:debian@12");
        assert_eq!(deps[1]["dependsOn"], json!(purls));
    }

    #[test]
    fn a_package_listed_twice_is_one_component() {
        let mut twice = packages();
        twice.push(twice[0].clone());
        let bom = parse(&render(&image(), Some(&bookworm()), &twice));
        assert_eq!(bom["components"].as_array().expect("components").len(), 7);
        assert_eq!(bom["dependencies"][1]["dependsOn"].as_array().expect("dependsOn").len(), 6);
    }

    #[test]
    fn without_os_release_packages_name_no_distro() {
        let bom = parse(&render(&image(), None, &packages()));
        let components = bom["components"].as_array().expect("components");
        assert_eq!(components.len(), 6);
        assert!(components.iter().all(|c| c["type"] == "library"));
        assert_eq!(
            library_named(&bom, "libc6")["purl"],
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&upstream=glibc"
        );
        let deps = bom["dependencies"].as_array().expect("dependencies");
        assert_eq!(deps.len(), 1);
        assert_eq!(deps[0]["ref"], "image:web@1.4.0");
        assert_eq!(deps[0]["dependsOn"].as_array().expect("dependsOn").len(), 6);

        let sid = Os { id: "debian".into(), version_id: String::new() };
        let bom = parse(&render(&image(), Some(&sid), &packages()));
        assert_eq!(bom["components"][0], json!({"bom-ref": "os:debian", "type": "operating-system", "name": "debian"}));
        assert!(library_named(&bom, "tzdata")["purl"].as_str().expect("purl").ends_with("?arch=all&distro=debian"));
    }

    #[test]
    fn os_release_is_read_as_a_shell_would() {
        let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
                        VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n";
        assert_eq!(os_release(bookworm), Some(Os { id: "debian".into(), version_id: "12".into() }));
        let ubuntu = "# comment\r\nID='ubuntu'\r\nID_LIKE=debian\r\nVERSION_ID=\"24.04\"\r\n";
        assert_eq!(os_release(ubuntu), Some(Os { id: "ubuntu".into(), version_id: "24.04".into() }));
        let sid = "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n";
        assert_eq!(os_release(sid), Some(Os { id: "debian".into(), version_id: String::new() }));
        assert_eq!(os_release("ID=a\nID=\"b\\\"c\"\n").map(|os| os.id), Some("b\"c".to_string()));
        for none in ["", "NAME=Debian\nVERSION_ID=12\n", "ID=\n", "ID=\"\"\n", "#ID=debian\n", "XID=debian\n"] {
            assert_eq!(os_release(none), None, "{none:?}");
        }
    }

    /// Validates against the official CycloneDX 1.5 JSON schema (strict: no unknown fields), as
    /// shipped with cyclonedx-python-lib, offline.
    #[test]
    #[cfg_attr(gild_no_cyclonedx, ignore = "python3 lacks cyclonedx-python-lib[json-validation]")]
    fn the_sbom_validates_against_the_cyclonedx_1_5_schema() {
        require(&[Need::CycloneDx]);
        let bookworm = bookworm();
        let sid = Os { id: "debian".into(), version_id: String::new() };
        for (os, packages) in [(Some(&bookworm), packages()), (None, packages()), (Some(&sid), Vec::new())] {
            assert_schema_valid(&render(&image(), os, &packages));
        }
    }

    /// Panics, saying why, unless `text` is valid CycloneDX 1.5 (python3 and its modules are
    /// the test's [`Need::CycloneDx`]).
    fn assert_schema_valid(text: &str) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        const SCRIPT: &str = "
import sys
try:
    import jsonschema, referencing
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
except ImportError as e:
    print(e)
    sys.exit(3)
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(sys.stdin.read())
if error is not None:
    print(error)
    sys.exit(1)
";
        let spawned = Command::new("python3")
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = spawned.expect("python3 runs");
        if let Some(mut stdin) = child.stdin.take() {
            // A failed write shows as the exit status below (the script exits before reading).
            let _ = stdin.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().expect("waiting for python3");
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        match out.status.code() {
            Some(0) => {}
            Some(3) => panic!(
                "python3 lacks cyclonedx-python-lib or jsonschema ({}); pip install 'cyclonedx-python-lib[json-validation]'",
                said.trim()
            ),
            _ => panic!("the SBOM is not valid CycloneDX 1.5:\n{said}\n{text}"),
        }
    }
}
