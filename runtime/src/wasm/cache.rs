//! Where a guest's machine code comes from: the on-disk compile cache (a component is compiled
//! once per engine configuration, and a restart loads the machine code instead of compiling
//! again), a directory of guests precompiled for this binary by `sluice guest precompile`, or,
//! in builds with the compiler, compiling it now.
//!
//! A runtime-only build (no `compiler` feature) has neither cache nor compiler: it runs only what
//! was precompiled for it, and says which file it needs when that is missing or was made for
//! another target or engine configuration.

use std::path::Path;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::{LoadError, WasmOptions};

/// Content hash of a component: its version.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file a precompiled `bytes` is looked for under in a precompiled directory.
pub fn precompiled_name(bytes: &[u8]) -> String {
    file_name(&content_hash(bytes))
}

fn file_name(hash: &str) -> String {
    format!("{hash}.cwasm")
}

pub fn load(engine: &Engine, options: &WasmOptions, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
    let hash = content_hash(bytes);
    #[cfg(feature = "compiler")]
    let cached = options.compile.then(|| cache_path(engine, &options.cache_dir, &hash));
    #[cfg(feature = "compiler")]
    if let Some(path) = cached.as_deref().filter(|p| p.is_file()) {
        match deserialize(engine, path) {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring unusable compile cache entry"),
        }
    }
    let version = hash[..12].to_string();
    let wanted = options.precompiled_dir.as_ref().map(|dir| dir.join(file_name(&hash)));
    if let Some(path) = wanted.as_deref().filter(|p| p.is_file()) {
        match deserialize(engine, path) {
            Ok(component) => return Ok(component),
            Err(e) if !options.compile => {
                return Err(LoadError::Precompiled {
                    name: name.to_string(),
                    version,
                    path: path.to_path_buf(),
                    reason: format!("{e:#}"),
                });
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unusable precompiled guest; compiling it")
            }
        }
    }
    if !options.compile {
        return Err(LoadError::NoCompiler { name: name.to_string(), version, wanted });
    }
    #[cfg(feature = "compiler")]
    {
        let component = Component::new(engine, bytes)
            .map_err(|e| LoadError::Invalid { name: name.to_string(), reason: format!("{e:#}") })?;
        if let Some(path) = cached {
            write_cache(&component, &path);
        }
        Ok(component)
    }
    #[cfg(not(feature = "compiler"))]
    unreachable!("a build without the compiler never has `compile` set")
}

/// The cache file binds the artifact to both the component and this engine's configuration, so
/// an artifact from another build or setting is never even looked at.
#[cfg(feature = "compiler")]
fn cache_path(engine: &Engine, dir: &Path, hash: &str) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!("{hash}-{:016x}.cwasm", hasher.finish()))
}

#[cfg(feature = "compiler")]
fn write_cache(component: &Component, path: &Path) {
    match component.serialize() {
        Ok(artifact) => {
            let tmp = path.with_extension("tmp");
            let written = std::fs::write(&tmp, artifact).and_then(|()| std::fs::rename(&tmp, path));
            if let Err(e) = written {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the compile cache");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot serialize a compiled component"),
    }
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: deserializing runs the file's machine code, so it must come from a trusted
    // compiler: either this module wrote it (`Component::serialize`, into Sluice's own data
    // directory, under a name that includes the engine's compatibility hash), or the operator put
    // it in the precompiled directory from `sluice guest precompile`, which makes it as trusted as
    // the binary itself. wasmtime checks its header, version, target and every compilation
    // setting against this engine before mapping it, and refuses a mismatch.
    unsafe { Component::deserialize_file(engine, path) }
}
