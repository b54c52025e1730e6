//! TLS for the management port. A configured PEM pair (certificate chain
//! and private key) is used as is; without one, the first start generates a
//! self-signed certificate for the host's names and addresses into
//! `<data_dir>/tls/` and later starts reuse it (clients that pinned it
//! keep working). `GET /api/v1/certificate` hands it out, so a browser or a
//! script can trust it explicitly.

use crate::error::ServerError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The certificate in force.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    /// The certificate chain, PEM (what `/api/v1/certificate` returns).
    pub cert_pem: String,
    /// Where it came from.
    pub cert_path: PathBuf,
    /// The rustls configuration built from it.
    pub config: Arc<rustls::ServerConfig>,
}

/// Where the generated pair lives.
pub fn generated_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The names a generated certificate covers: `localhost`, the host name,
/// the loopback addresses, the bound address and every interface address.
pub fn host_names(bind: IpAddr) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() && h != "localhost" {
            names.push(h.to_string());
        }
    }
    let mut ips: Vec<IpAddr> = vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)];
    if !bind.is_unspecified() {
        ips.push(bind);
    }
    if let Ok(ifs) = if_addrs::get_if_addrs() {
        ips.extend(ifs.into_iter().map(|i| i.ip()));
    }
    for ip in ips {
        let s = ip.to_string();
        if !names.contains(&s) {
            names.push(s);
        }
    }
    names
}

/// Loads the configured pair, or the generated one (generating it first).
pub fn load(data_dir: &Path, configured: Option<(&Path, &Path)>, bind: IpAddr) -> Result<TlsIdentity, ServerError> {
    let (cert_path, key_path) = match configured {
        Some((c, k)) => (c.to_path_buf(), k.to_path_buf()),
        None => {
            let (c, k) = generated_paths(data_dir);
            if !c.exists() || !k.exists() {
                generate(&c, &k, &host_names(bind))?;
            }
            (c, k)
        }
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| ServerError::io(format!("reading {}", p.display()), e));
    let (cert_bytes, key_bytes) = (read(&cert_path)?, read(&key_path)?);
    let bad = |p: &Path, what: String| ServerError::Config(format!("management TLS: {}: {what}", p.display()));
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&cert_path, format!("not a PEM certificate chain ({e})")))?;
    if chain.is_empty() {
        return Err(bad(&cert_path, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|e| bad(&key_path, format!("not a PEM private key ({e})")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Config(format!("management TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(&cert_path, format!("the certificate and the key do not go together ({e})")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let cert_pem = String::from_utf8_lossy(&cert_bytes).into_owned();
    Ok(TlsIdentity { cert_pem, cert_path, config: Arc::new(config) })
}

fn generate(cert: &Path, key: &Path, names: &[String]) -> Result<(), ServerError> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| ServerError::Config(format!("management TLS: a host name is unusable in a certificate: {e}")))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("pstor-server {}", names.get(1).map_or("localhost", |s| s)));
    let failed = |e: rcgen::Error| ServerError::Config(format!("management TLS: generating a certificate: {e}"));
    let pair = rcgen::KeyPair::generate().map_err(failed)?;
    let signed = params.self_signed(&pair).map_err(failed)?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ServerError::io(format!("creating {}", dir.display()), e))?;
    }
    write_private(key, pair.serialize_pem().as_bytes(), 0o600)?;
    write_private(cert, signed.pem().as_bytes(), 0o644)?;
    tracing::info!(
        certificate = %cert.display(),
        names = %names.join(", "),
        "generated a self-signed certificate for the management port (configure [management] tls_cert and tls_key to use your own)"
    );
    Ok(())
}

/// Writes a file whole (temporary name, fsync, rename) with `mode`.
pub(crate) fn write_private(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ServerError> {
    let tmp = path.with_extension("tmp");
    let io = |e| ServerError::io(format!("writing {}", path.display()), e);
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_and_refuses_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bind = IpAddr::from([127, 0, 0, 1]);
        let a = load(dir.path(), None, bind).expect("generated");
        assert!(a.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let (c, k) = generated_paths(dir.path());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&k).expect("key").permissions().mode() & 0o777, 0o600);
        let b = load(dir.path(), None, bind).expect("reused");
        assert_eq!(a.cert_pem, b.cert_pem, "the second start reuses the certificate");
        std::fs::write(&c, "not pem").expect("damage");
        let e = load(dir.path(), Some((&c, &k)), bind).expect_err("garbage refused");
        assert!(e.to_string().contains("holds no certificate") || e.to_string().contains("not a PEM"), "{e}");
        assert!(host_names(bind).iter().any(|n| n == "127.0.0.1"));
    }
}
