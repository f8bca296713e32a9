//! The token secret: never the public one on a reachable address.
//!
//! `config.toml` ships a secret anyone can read, so a token signed with it
//! proves nothing. On a non-loopback address the server refuses to start
//! with that secret, or with any shorter than [`SECRET_BYTES_MIN`]. On
//! loopback (a laptop, the demo, tests) it signs with a random secret kept
//! in `<data_dir>/token.secret` (owner-only), made on first start, which
//! `waimai token --data-dir` reads, so tokens survive restarts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The secret printed in the shipped config.toml.
pub const SHIPPED_SECRET: &str = "dev-only-secret-change-me";

/// HMAC-SHA256 wants at least its output length in key material.
pub const SECRET_BYTES_MIN: usize = 32;

/// The variable an operator sets the secret with.
pub const SECRET_VARIABLE: &str = "WAIMAI_SERVER__SECRET";

const SECRET_FILE: &str = "token.secret";

/// Why no usable secret was found.
#[derive(Debug, Error)]
pub enum SecretError {
    #[error(
        "refusing to serve on {addr}: the token secret is {why}; anyone could sign tokens with it. \
         Set {SECRET_VARIABLE} to at least {SECRET_BYTES_MIN} random bytes \
         (e.g. `openssl rand -hex 32`), or listen on a loopback address"
    )]
    PublicWithWeakSecret { addr: String, why: &'static str },
    #[error(
        "no token secret at {}: start `waimai serve --data-dir {}` once to make one, \
         or set {SECRET_VARIABLE}", path.display(), dir.display()
    )]
    Missing { path: PathBuf, dir: PathBuf },
    #[error("token secret file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("token secret file {}: {reason}", path.display())]
    BadFile { path: PathBuf, reason: &'static str },
}

/// Why `secret` must not sign tokens anyone else can reach, if it must not.
pub fn weakness(secret: &str) -> Option<&'static str> {
    if secret == SHIPPED_SECRET {
        Some("the public default from config.toml")
    } else if secret.len() < SECRET_BYTES_MIN {
        Some("shorter than 32 bytes")
    } else {
        None
    }
}

/// The secret the server signs with. `bound` are the addresses it will
/// listen on: if any is reachable from another machine, a weak configured
/// secret is an error; if all are loopback, it is replaced by the one in
/// `data_dir` (made there on first start).
pub fn for_server(
    configured: &str,
    listen: &str,
    bound: &[SocketAddr],
    data_dir: &Path,
) -> Result<String, SecretError> {
    let Some(why) = weakness(configured) else {
        return Ok(configured.to_string());
    };
    if bound.is_empty() || bound.iter().any(|a| !a.ip().is_loopback()) {
        return Err(SecretError::PublicWithWeakSecret {
            addr: listen.to_string(),
            why,
        });
    }
    let path = data_dir.join(SECRET_FILE);
    match read(&path)? {
        Some(secret) => Ok(secret),
        None => {
            let secret = generate();
            write_owner_only(&path, secret.as_bytes()).map_err(|source| SecretError::Io {
                path: path.clone(),
                source,
            })?;
            tracing::info!(path = %path.display(), "generated a token secret for loopback use ({SECRET_VARIABLE} is {why})");
            Ok(secret)
        }
    }
}

/// The secret tools (`waimai token`, `waimai load`) sign with: the
/// configured one if it is strong, else the one a loopback server made in
/// `data_dir`.
pub fn for_tools(configured: &str, data_dir: &Path) -> Result<String, SecretError> {
    if weakness(configured).is_none() {
        return Ok(configured.to_string());
    }
    let path = data_dir.join(SECRET_FILE);
    read(&path)?.ok_or_else(|| SecretError::Missing {
        path,
        dir: data_dir.to_path_buf(),
    })
}

fn read(path: &Path) -> Result<Option<String>, SecretError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim().to_string();
            if weakness(&secret).is_some() {
                return Err(SecretError::BadFile {
                    path: path.to_path_buf(),
                    reason: "shorter than 32 bytes: delete it to make a new one",
                });
            }
            Ok(Some(secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SecretError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates `path` (and its folder) readable by its owner only, holding
/// `bytes`, synced; fails if it exists, so a key is never overwritten.
pub(crate) fn write_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()
}

/// 32 random bytes, hex.
fn generate() -> String {
    let mut key = [0u8; SECRET_BYTES_MIN];
    rand::fill(&mut key);
    key.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("waimai-secret-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn addr(s: &str) -> Vec<SocketAddr> {
        vec![s.parse().unwrap()]
    }

    #[test]
    fn the_shipped_secret_is_refused_off_loopback() {
        let d = dir("public");
        for listen in ["0.0.0.0:8080", "[::]:8080", "192.168.1.5:80"] {
            let err = for_server(SHIPPED_SECRET, listen, &addr(listen), &d).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(SECRET_VARIABLE) && text.contains(listen), "{text}");
        }
        // A strong secret of less than 32 bytes is still refused.
        assert!(for_server("0123456789abcdef0123456789", "x", &addr("10.0.0.1:1"), &d).is_err());
        assert!(!d.exists(), "nothing is written when refusing");
    }

    #[test]
    fn a_strong_secret_is_used_anywhere() {
        let strong = "k".repeat(32);
        let d = dir("strong");
        assert_eq!(for_server(&strong, "x", &addr("0.0.0.0:1"), &d).unwrap(), strong);
        assert_eq!(for_tools(&strong, &d).unwrap(), strong);
    }

    #[test]
    fn loopback_makes_a_private_secret_once_and_tools_read_it() {
        let d = dir("loopback");
        assert!(matches!(
            for_tools(SHIPPED_SECRET, &d),
            Err(SecretError::Missing { .. })
        ));
        let first = for_server(SHIPPED_SECRET, "127.0.0.1:0", &addr("127.0.0.1:0"), &d).unwrap();
        assert_eq!(first.len(), 64);
        assert_ne!(first, SHIPPED_SECRET);
        let again = for_server(SHIPPED_SECRET, "[::1]:0", &addr("[::1]:0"), &d).unwrap();
        assert_eq!(first, again, "kept across restarts");
        assert_eq!(for_tools(SHIPPED_SECRET, &d).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = dir("loopback-other");
        let fresh = for_server(SHIPPED_SECRET, "127.0.0.1:0", &addr("127.0.0.1:0"), &other).unwrap();
        assert_ne!(fresh, first, "random per data dir");
    }

    #[test]
    fn a_truncated_secret_file_is_an_error_not_a_weak_key() {
        let d = dir("truncated");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(SECRET_FILE), "short").unwrap();
        assert!(matches!(
            for_server(SHIPPED_SECRET, "127.0.0.1:0", &addr("127.0.0.1:0"), &d),
            Err(SecretError::BadFile { .. })
        ));
    }
}
