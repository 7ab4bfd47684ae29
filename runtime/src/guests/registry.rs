//! The registry of guest versions, on disk in the data directory.
//!
//! Every version a stage ever ran (built-in, from a file, or uploaded) is kept here, immutable and
//! named by its content hash, so any of them can be activated or rolled back to later, and so is
//! the record of which version each stage runs:
//!
//! ```text
//! <data>/guests/<name>/<sha256>.wasm   the component, exactly as received
//! <data>/guests/<name>/<sha256>.json   its metadata (source, size, when, signer)
//! <data>/guests/active.json            per stage: guest, active, previous and base versions
//! ```
//!
//! Files are written to a temporary name, synced and renamed, so a crash leaves either the old or
//! the new file, never half of one. This module never compiles or runs anything; callers check a
//! component (and its signature) before adding it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::config::validate_guest_name;
use crate::event::{format_ns, now_ns};
use crate::wasm::content_hash;

/// Why the registry failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("guest registry I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unreadable registry file {path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{0}")]
    InvalidName(String),
    #[error("no guest named `{0}`")]
    UnknownGuest(String),
    #[error("guest `{name}` has no version `{version}`")]
    UnknownVersion { name: String, version: String },
    #[error("version `{version}` of guest `{name}` is ambiguous: give more digits")]
    Ambiguous { name: String, version: String },
}

/// Where a version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Embedded in the binary.
    Builtin,
    /// Named by path in a pipeline file.
    File,
    /// Uploaded over the API.
    Upload,
}

/// One stored version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub name: String,
    /// The component's SHA-256 in hex.
    pub sha256: String,
    /// Its first 12 hex digits, as shown everywhere else.
    pub version: String,
    pub size: u64,
    pub source: Source,
    pub added_at: String,
    /// The trusted key that signed the upload, if one did.
    pub signed_by: Option<String>,
}

/// Which version a stage runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRecord {
    /// The guest name the stage ran when this was recorded.
    pub guest: String,
    /// SHA-256 of the active version.
    pub active: String,
    /// SHA-256 of the version before it, the target of a rollback.
    pub previous: Option<String>,
    /// What the pipeline file named when this was recorded (the hash of the built-in or file
    /// guest, or the uploaded guest's name). A version activated over the API stays active only
    /// while the file still names the same thing; editing the file to a new guest wins.
    pub base: String,
}

/// The registry: cheap to share (`Arc`), internally locked.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Versions per guest name, oldest first.
    versions: BTreeMap<String, Vec<VersionInfo>>,
    active: BTreeMap<String, ActiveRecord>,
}

/// The time now (millisecond resolution), moved past `last` if it is not after it: versions are
/// ordered by it when the registry is read back, so two added within one millisecond keep their
/// order.
fn later_than(last: Option<&str>) -> String {
    let mut ns = now_ns();
    loop {
        let at = format_ns(ns);
        if last.is_none_or(|last| at.as_str() > last) {
            return at;
        }
        ns += 1_000_000;
    }
}

impl Registry {
    /// Opens (creating if needed) the registry in `dir`, reading every version's metadata.
    pub fn open(dir: &Path) -> Result<Registry, RegistryError> {
        std::fs::create_dir_all(dir).map_err(|source| RegistryError::Io { path: dir.to_path_buf(), source })?;
        let mut inner = Inner::default();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RegistryError::Io { path, source }
        };
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() || validate_guest_name(&name).is_err() {
                continue;
            }
            let mut versions = Vec::new();
            for file in std::fs::read_dir(entry.path()).map_err(io(&entry.path()))? {
                let path = file.map_err(io(&entry.path()))?.path();
                if path.extension().is_some_and(|e| e == "json") {
                    versions.push(read_json::<VersionInfo>(&path)?);
                }
            }
            versions.sort_by(|a, b| a.added_at.cmp(&b.added_at).then(a.sha256.cmp(&b.sha256)));
            inner.versions.insert(name, versions);
        }
        let active_path = dir.join("active.json");
        if active_path.is_file() {
            inner.active = read_json(&active_path)?;
        }
        Ok(Registry { dir: dir.to_path_buf(), inner: Mutex::new(inner) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update replaces whole entries, so a poisoned lock still holds consistent data.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `bytes` as a version of `name` unless it is there already. Returns the version and
    /// whether it was new.
    pub fn add(
        &self,
        name: &str,
        bytes: &[u8],
        source: Source,
        signed_by: Option<String>,
    ) -> Result<(VersionInfo, bool), RegistryError> {
        validate_guest_name(name).map_err(RegistryError::InvalidName)?;
        let sha256 = content_hash(bytes);
        let added_at = {
            let inner = self.lock();
            let versions = inner.versions.get(name);
            if let Some(existing) = versions.and_then(|v| v.iter().find(|i| i.sha256 == sha256)) {
                return Ok((existing.clone(), false));
            }
            later_than(versions.and_then(|v| v.last()).map(|v| v.added_at.as_str()))
        };
        let info = VersionInfo {
            name: name.to_string(),
            version: sha256[..12].to_string(),
            sha256,
            size: bytes.len() as u64,
            source,
            added_at,
            signed_by,
        };
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).map_err(|source| RegistryError::Io { path: dir.clone(), source })?;
        write_atomic(&dir.join(format!("{}.wasm", info.sha256)), bytes)?;
        let json = serde_json::to_vec_pretty(&info).unwrap_or_default();
        write_atomic(&dir.join(format!("{}.json", info.sha256)), &json)?;
        // Two uploads of the same new bytes may both get here; only the first is recorded.
        let mut inner = self.lock();
        let versions = inner.versions.entry(name.to_string()).or_default();
        if let Some(existing) = versions.iter().find(|v| v.sha256 == info.sha256) {
            return Ok((existing.clone(), false));
        }
        versions.push(info.clone());
        Ok((info, true))
    }

    /// Every guest name with its versions, oldest first.
    pub fn list(&self) -> BTreeMap<String, Vec<VersionInfo>> {
        self.lock().versions.clone()
    }

    /// The version of `name` whose hash starts with `version` (at least 6 hex digits).
    pub fn find(&self, name: &str, version: &str) -> Result<VersionInfo, RegistryError> {
        let inner = self.lock();
        let versions = inner.versions.get(name).ok_or_else(|| RegistryError::UnknownGuest(name.to_string()))?;
        let unknown = || RegistryError::UnknownVersion { name: name.to_string(), version: version.to_string() };
        let version_lc = version.to_ascii_lowercase();
        if version_lc.len() < 6 || !version_lc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        let mut matches = versions.iter().filter(|v| v.sha256.starts_with(&version_lc));
        match (matches.next(), matches.next()) {
            (Some(one), None) => Ok(one.clone()),
            (Some(_), Some(_)) => Err(RegistryError::Ambiguous { name: name.to_string(), version: version.into() }),
            (None, _) => Err(unknown()),
        }
    }

    /// The newest uploaded version of `name`.
    pub fn latest_upload(&self, name: &str) -> Option<VersionInfo> {
        self.lock().versions.get(name)?.iter().rev().find(|v| v.source == Source::Upload).cloned()
    }

    /// A version's bytes, checked against its hash.
    pub fn bytes(&self, name: &str, sha256: &str) -> Result<Vec<u8>, RegistryError> {
        validate_guest_name(name).map_err(RegistryError::InvalidName)?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RegistryError::UnknownVersion { name: name.into(), version: sha256.into() });
        }
        let path = self.dir.join(name).join(format!("{sha256}.wasm"));
        let bytes = std::fs::read(&path).map_err(|source| RegistryError::Io { path: path.clone(), source })?;
        if content_hash(&bytes) != sha256 {
            return Err(RegistryError::Corrupt { path, message: "content does not match its hash".into() });
        }
        Ok(bytes)
    }

    /// The record of what `stage` runs.
    pub fn active(&self, stage: &str) -> Option<ActiveRecord> {
        self.lock().active.get(stage).cloned()
    }

    /// Every stage's record.
    pub fn all_active(&self) -> BTreeMap<String, ActiveRecord> {
        self.lock().active.clone()
    }

    /// Records what `stage` runs, durably.
    pub fn set_active(&self, stage: &str, record: ActiveRecord) -> Result<(), RegistryError> {
        let mut inner = self.lock();
        if inner.active.get(stage) == Some(&record) {
            return Ok(());
        }
        let mut next = inner.active.clone();
        next.insert(stage.to_string(), record);
        let json = serde_json::to_vec_pretty(&next).unwrap_or_default();
        write_atomic(&self.dir.join("active.json"), &json)?;
        inner.active = next;
        Ok(())
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, RegistryError> {
    let text = std::fs::read(path).map_err(|source| RegistryError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&text)
        .map_err(|e| RegistryError::Corrupt { path: path.to_path_buf(), message: e.to_string() })
}

/// Write to a temporary file, sync it, rename it over `path`, sync the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    use std::io::Write;
    let io = |source| RegistryError::Io { path: path.to_path_buf(), source };
    // A name of its own per write, so concurrent writers of the same file never share one.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_uploads_of_the_same_bytes_record_one_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = std::sync::Arc::new(Registry::open(dir.path()).expect("open"));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let registry = registry.clone();
                std::thread::spawn(move || registry.add("same", b"bytes", Source::Upload, None).expect("add").1)
            })
            .collect();
        let created = handles.into_iter().map(|h| h.join().expect("thread")).filter(|&c| c).count();
        assert_eq!(created, 1);
        assert_eq!(registry.list()["same"].len(), 1);
        assert_eq!(Registry::open(dir.path()).expect("reopen").list()["same"].len(), 1);
    }

    #[test]
    fn versions_added_in_one_millisecond_keep_their_order_when_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("open");
        let added: Vec<String> = (0..20)
            .map(|i| {
                registry.add("burst", format!("component {i}").as_bytes(), Source::Upload, None).expect("add").0.sha256
            })
            .collect();
        drop(registry);
        let registry = Registry::open(dir.path()).expect("reopen");
        let listed: Vec<String> = registry.list()["burst"].iter().map(|v| v.sha256.clone()).collect();
        assert_eq!(listed, added);
    }

    #[test]
    fn versions_and_records_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::open(dir.path()).expect("open");
        let (a, created) = registry.add("redact", b"component a", Source::Upload, None).expect("add a");
        assert!(created);
        let (again, created) = registry.add("redact", b"component a", Source::Upload, None).expect("add a again");
        assert!(!created);
        assert_eq!(again, a);
        let (b, _) = registry.add("redact", b"component b", Source::Upload, Some("k".into())).expect("add b");
        assert!(matches!(registry.add("../x", b"c", Source::Upload, None), Err(RegistryError::InvalidName(_))));
        assert_eq!(registry.find("redact", &a.version).expect("find"), a);
        assert!(matches!(registry.find("redact", "abc"), Err(RegistryError::UnknownVersion { .. })));
        assert!(matches!(registry.find("nope", &a.version), Err(RegistryError::UnknownGuest(_))));
        registry
            .set_active(
                "s",
                ActiveRecord {
                    guest: "redact".into(),
                    active: b.sha256.clone(),
                    previous: Some(a.sha256.clone()),
                    base: "x".into(),
                },
            )
            .expect("record");
        drop(registry);

        let registry = Registry::open(dir.path()).expect("reopen");
        assert_eq!(registry.list()["redact"].len(), 2);
        assert_eq!(registry.latest_upload("redact").map(|v| v.sha256), Some(b.sha256.clone()));
        assert_eq!(registry.bytes("redact", &a.sha256).expect("bytes"), b"component a");
        assert_eq!(registry.active("s").map(|r| r.active), Some(b.sha256));
    }
}
