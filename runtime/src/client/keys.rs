//! The local half of signed uploads: making a key pair and signing a component. No server is
//! involved; the formats are those of [`crate::guests::signing`].
//!
//! A secret key file is written only if it does not exist yet, readable by its owner alone, and
//! its contents are never printed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::error::ClientError;
use crate::guests::signing;

/// Writes a new secret key to `out` and returns the matching public key.
pub fn keygen(out: &Path) -> Result<String, ClientError> {
    let (secret, public) = signing::generate_keypair().map_err(|e| ClientError::Refused(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            ClientError::Refused(format!("{} already exists; a key is never overwritten", out.display()))
        }
        _ => ClientError::File { action: "create", path: out.to_path_buf(), source: e },
    })?;
    let written = file.write_all(format!("{secret}\n").as_bytes()).and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A half-written key is useless; the file is ours (created above).
        drop(file);
        let _ = std::fs::remove_file(out);
        return Err(ClientError::File { action: "write", path: out.to_path_buf(), source: e });
    }
    Ok(public)
}

/// The signature of a component, made with the secret key in `key_file`.
pub fn signature(key_file: &Path, component: &[u8]) -> Result<String, ClientError> {
    let secret = read_secret(key_file)?;
    signing::sign(&secret, component).map_err(|e| ClientError::Refused(format!("{}: {e}", key_file.display())))
}

/// Signs the file `component` and writes the signature to `out` (default: `COMPONENT.sig`).
/// Returns where it went and the public key that verifies it.
pub fn sign_file(key_file: &Path, component: &Path, out: Option<&Path>) -> Result<(PathBuf, String), ClientError> {
    let bytes = std::fs::read(component).map_err(ClientError::file("read", component))?;
    let secret = read_secret(key_file)?;
    let malformed = |e: signing::SigningError| ClientError::Refused(format!("{}: {e}", key_file.display()));
    let signature = signing::sign(&secret, &bytes).map_err(malformed)?;
    let public = signing::public_key_of(&secret).map_err(malformed)?;
    let out = out.map_or_else(|| default_signature_path(component), Path::to_path_buf);
    std::fs::write(&out, format!("{signature}\n")).map_err(ClientError::file("write", &out))?;
    Ok((out, public))
}

/// Reads a detached signature written by [`sign_file`].
pub fn read_signature(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(ClientError::file("read", path))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ClientError::Refused(format!("{} is empty", path.display())));
    }
    Ok(text.to_string())
}

/// `guest.wasm` → `guest.wasm.sig`.
pub fn default_signature_path(component: &Path) -> PathBuf {
    let mut path = component.as_os_str().to_owned();
    path.push(".sig");
    PathBuf::from(path)
}

fn read_secret(path: &Path) -> Result<String, ClientError> {
    std::fs::read_to_string(path).map_err(ClientError::file("read the key", path))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{default_signature_path, keygen, read_signature, sign_file};
    use crate::guests::signing::TrustedKeys;

    #[test]
    fn a_new_key_signs_what_its_public_key_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("guest.key");
        let public = keygen(&key).expect("keygen");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the secret key is private");
        }
        let err = keygen(&key).expect_err("no overwrite");
        assert!(err.to_string().contains("never overwritten"), "{err}");

        let component = dir.path().join("g.wasm");
        std::fs::write(&component, b"\0asm component bytes").expect("write");
        let (out, signer) = sign_file(&key, &component, None).expect("sign");
        assert_eq!(out, dir.path().join("g.wasm.sig"));
        assert_eq!(signer, public);
        let signature = read_signature(&out).expect("read");
        let trusted = TrustedKeys::from_env_list(&public).expect("keys");
        trusted.verify(b"\0asm component bytes", Some(&signature)).expect("verifies");
        assert!(trusted.verify(b"other bytes", Some(&signature)).is_err());
    }

    #[test]
    fn signature_files_sit_beside_the_component() {
        assert_eq!(default_signature_path(Path::new("t/x.wasm")), Path::new("t/x.wasm.sig"));
    }
}
