//! Where `sluice test` keeps compiled guests when it is given no data directory.
//!
//! A compile cache entry is native code that is mapped and run as it is, so its directory must be
//! one nobody else can write. The shared `sluice-test-cache` under the temporary directory is used
//! only when it belongs to this user and is closed to everyone else; otherwise the run gets a new
//! directory of its own (and compiles again).

use std::path::{Path, PathBuf};

use crate::event::now_ns;

/// The compile cache directory for a run without a data directory.
pub fn private_temp_dir() -> PathBuf {
    let shared = std::env::temp_dir().join("sluice-test-cache");
    if is_private(&shared) {
        return shared;
    }
    tracing::warn!(dir = %shared.display(), "the shared test cache is not private to this user; compiling afresh");
    fresh_dir()
}

/// A directory that did not exist before, private to this user.
fn fresh_dir() -> PathBuf {
    let base = std::env::temp_dir();
    let mut attempt = 0;
    loop {
        let dir = base.join(format!("sluice-test-cache-{}-{}-{attempt}", std::process::id(), now_ns()));
        // `create_private` refuses a path that exists, so nobody can have prepared it for us.
        if create_private(&dir).is_ok() || attempt >= 8 {
            return dir;
        }
        attempt += 1;
    }
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir(dir)
}

/// Whether `dir` is (or has just been made) a real directory of this user's that only they can
/// write.
#[cfg(unix)]
fn is_private(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // Already there is fine: that is what the checks below are for.
    let _ = create_private(dir);
    let Ok(meta) = std::fs::symlink_metadata(dir) else { return false };
    meta.is_dir() && meta.mode() & 0o022 == 0 && own_uid() == Some(meta.uid())
}

#[cfg(not(unix))]
fn is_private(dir: &Path) -> bool {
    let _ = create_private(dir);
    dir.is_dir()
}

/// This process's user id, read off a file it creates (the standard library has no `getuid`).
#[cfg(unix)]
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let probe = std::env::temp_dir().join(format!(".sluice-test-uid-{}-{}", std::process::id(), now_ns()));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&probe).ok()?;
    let uid = file.metadata().ok().map(|m| m.uid());
    drop(file);
    let _ = std::fs::remove_file(&probe);
    uid
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_a_private_directory_is_trusted() {
        let dir = std::env::temp_dir().join(format!("sluice-cache-test-{}-{}", std::process::id(), now_ns()));
        assert!(is_private(&dir), "a directory it creates is private");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(!is_private(&dir), "a world-writable directory is not");
        std::fs::remove_dir(&dir).expect("cleanup");
        let fresh = fresh_dir();
        assert!(fresh.is_dir() && fresh != dir);
        std::fs::remove_dir(&fresh).expect("cleanup");
    }
}
