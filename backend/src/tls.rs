//! The backend's certificate authority, for TLS in transit: made on first start
//! under `<data-dir>/tls/` (`ca.pem`, `ca.key` owner-only), kept across restarts,
//! served at `GET /_elasticache/ca.pem`. It issues each node that serves TLS a
//! certificate naming every address the node is reached by, so clients verify
//! node and endpoint addresses against the one CA (`redis-cli --tls --cacert`,
//! redis-py `ssl_ca_certs`, rustls).

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

const CA_NAME: &str = "elasticache-local CA";

/// A certificate and its private key, PEM-encoded.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

pub struct Authority {
    dir: PathBuf,
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The CA's own parameters: the same on every start, so that an issuer rebuilt
/// from the stored key signs as the stored certificate names it.
fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "elasticache-local");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p
}

impl Authority {
    /// Load the CA under `dir`, or make one there.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        let (cert_pem, key) = if cert.exists() && key.exists() {
            let key_pem =
                std::fs::read_to_string(&key).with_context(|| format!("read {}", key.display()))?;
            let cert_pem = std::fs::read_to_string(&cert)
                .with_context(|| format!("read {}", cert.display()))?;
            (
                cert_pem,
                KeyPair::from_pem(&key_pem).context("parse the CA key")?,
            )
        } else {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
            let key_pair = KeyPair::generate().context("generate the CA key")?;
            let cert_pem = ca_params().self_signed(&key_pair)?.pem();
            write_private(&key, &key_pair.serialize_pem())?;
            // The certificate last: its presence says the pair is complete.
            std::fs::write(&cert, &cert_pem)
                .with_context(|| format!("write {}", cert.display()))?;
            (cert_pem, key_pair)
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            cert_pem,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    /// The CA certificate, PEM.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Where the CA certificate is on disk.
    #[must_use]
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A certificate for a node reached by `names` (IP addresses or DNS names),
    /// good as server and as client (a replica's link to its primary).
    pub fn issue(&self, names: &[String]) -> anyhow::Result<Issued> {
        let mut p = CertificateParams::new(names.to_vec()).context("certificate names")?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names
                .first()
                .map_or("elasticache-local node", String::as_str),
        );
        p.distinguished_name = dn;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().context("generate a node key")?;
        let cert = p
            .signed_by(&key, &self.issuer)
            .context("sign a node certificate")?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

impl Authority {
    /// Give a node its TLS files under its data directory (the engine's working
    /// directory): a fresh certificate for `names`, its key (owner-only) and the CA.
    pub fn write_node_files(&self, data_dir: &Path, names: &[String]) -> anyhow::Result<()> {
        use crate::engine::{TLS_CA, TLS_CERT, TLS_KEY};
        let issued = self.issue(names)?;
        let dir = data_dir.join(TLS_CERT).parent().map(Path::to_path_buf);
        if let Some(dir) = dir {
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        }
        write_private(&data_dir.join(TLS_KEY), &issued.key_pem)?;
        std::fs::write(data_dir.join(TLS_CERT), &issued.cert_pem)?;
        std::fs::write(data_dir.join(TLS_CA), &self.cert_pem)?;
        Ok(())
    }
}

/// Write a secret readable by the owner only.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    f.write_all(contents.as_bytes())
        .with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime};

    fn verify(ca_pem: &str, cert_pem: &str, name: &str) -> Result<(), rustls::Error> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider,
        )
        .build()
        .unwrap();
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        v.verify_server_cert(
            &cert,
            &[],
            &ServerName::try_from(name.to_owned()).unwrap(),
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
    }

    #[test]
    fn issues_certificates_that_verify_for_their_names_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::load_or_create(dir.path()).unwrap();
        let node = ca
            .issue(&["127.9.8.7".into(), "127.9.8.8".into(), "localhost".into()])
            .unwrap();
        verify(ca.ca_pem(), &node.cert_pem, "127.9.8.7").unwrap();
        verify(ca.ca_pem(), &node.cert_pem, "127.9.8.8").unwrap();
        verify(ca.ca_pem(), &node.cert_pem, "localhost").unwrap();
        assert!(verify(ca.ca_pem(), &node.cert_pem, "127.9.8.9").is_err());
        let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );

        // The same CA after a restart: same certificate, and what it issues verifies.
        let again = Authority::load_or_create(dir.path()).unwrap();
        assert_eq!(again.ca_pem(), ca.ca_pem());
        let later = again.issue(&["127.1.1.1".into()]).unwrap();
        verify(ca.ca_pem(), &later.cert_pem, "127.1.1.1").unwrap();

        // Another backend's CA does not vouch for this one's nodes.
        let other = tempfile::tempdir().unwrap();
        let stranger = Authority::load_or_create(other.path()).unwrap();
        assert!(verify(stranger.ca_pem(), &later.cert_pem, "127.1.1.1").is_err());
    }
}
