//! Guest lifecycle: the registry of component versions ([`registry`]) and signatures over
//! uploads ([`signing`]). Which version runs where is decided by the topology, which records it
//! here.

pub mod registry;
pub mod signing;

use std::path::Path;

pub use registry::{ActiveRecord, Registry, RegistryError, Source, VersionInfo};

/// The registry's folder inside a data directory.
pub fn registry_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("guests")
}

/// The component bytes `sluice test` runs for a stage naming an uploaded guest: the version the
/// server in `data_dir` has active for `stage`, else the guest's newest upload.
pub fn resolve_for_test(data_dir: Option<&Path>, stage: &str, name: &str) -> Result<Vec<u8>, String> {
    let Some(data_dir) = data_dir else {
        return Err(format!("stage `{stage}` names the uploaded guest `{name}`: give the server's --data-dir"));
    };
    let registry = Registry::open(&registry_dir(data_dir)).map_err(|e| e.to_string())?;
    let sha = match registry.active(stage) {
        Some(record) if record.guest == name => record.active,
        _ => registry
            .latest_upload(name)
            .map(|v| v.sha256)
            .ok_or_else(|| format!("no guest named `{name}` in {}", data_dir.display()))?,
    };
    registry.bytes(name, &sha).map_err(|e| e.to_string())
}
