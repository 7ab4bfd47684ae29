//! The on-disk compile cache: a component is compiled once per engine configuration, and a
//! restart loads the machine code instead of compiling again.

use std::hash::{Hash, Hasher};
use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::LoadError;

/// Content hash of a component: its version.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn load_or_compile(engine: &Engine, dir: &Path, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
    // The file name binds the artifact to both the component and this engine's configuration, so
    // an artifact from another build or setting is never even looked at.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let path = dir.join(format!("{}-{:016x}.cwasm", content_hash(bytes), hasher.finish()));
    if path.is_file() {
        match deserialize(engine, &path) {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring unusable compile cache entry"),
        }
    }
    let component = Component::new(engine, bytes)
        .map_err(|e| LoadError::Invalid { name: name.to_string(), reason: format!("{e:#}") })?;
    match component.serialize() {
        Ok(artifact) => {
            let tmp = path.with_extension("tmp");
            let written = std::fs::write(&tmp, artifact).and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the compile cache");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot serialize a compiled component"),
    }
    Ok(component)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file is one this module wrote from `Component::serialize` into Sluice's own data
    // directory, under a name that includes the engine's compatibility hash; wasmtime additionally
    // checks its header and version before mapping it.
    unsafe { Component::deserialize_file(engine, path) }
}
