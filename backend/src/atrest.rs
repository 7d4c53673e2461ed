//! Encryption at rest: what AWS encrypts at rest for a group with
//! `AtRestEncryptionEnabled` — its backups — is encrypted here too. Snapshot
//! files (manual, automatic, final) of such a group are written with AES-256-GCM
//! under a key per KMS key ID (`KmsKeyId`, or AWS's default
//! `alias/aws/elasticache`), from a local key store `<data-dir>/kms/`
//! (owner-only, a key made on first use). Restores read them back
//! transparently (any file that starts with [`MAGIC`]); copies stay encrypted.
//!
//! File format: [`MAGIC`], the key ID's length (u16, big endian) and bytes,
//! a 12-byte nonce, then the ciphertext with its tag (the magic and key ID are
//! authenticated as associated data).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

/// The first bytes of an encrypted file.
pub const MAGIC: &[u8] = b"elasticache-local AES-256-GCM 1\n";

/// The key of groups that name none, as AWS's default key for the service.
pub const DEFAULT_KEY_ID: &str = "alias/aws/elasticache";

/// The local key store.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    #[must_use]
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The key of `key_id`, made (and kept, owner-only) on first use.
    fn key(&self, key_id: &str) -> anyhow::Result<LessSafeKey> {
        let name: String = key_id.bytes().map(|b| format!("{b:02x}")).collect();
        let path = self.dir.join(format!("{name}.key"));
        let bytes = match std::fs::read(&path) {
            Ok(b) if b.len() == 32 => b,
            Ok(_) => bail!("the key file {} is damaged", path.display()),
            Err(_) => {
                std::fs::create_dir_all(&self.dir)
                    .with_context(|| format!("create {}", self.dir.display()))?;
                std::fs::set_permissions(
                    &self.dir,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )?;
                let mut b = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow!("no randomness for a key"))?;
                write_private_bytes(&path, &b)?;
                b
            }
        };
        let k = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| anyhow!("bad key"))?;
        Ok(LessSafeKey::new(k))
    }

    /// Write `plain` to `to` encrypted under `key_id` (through a temporary file
    /// and a rename); returns the size written.
    pub fn write_encrypted(&self, plain: &[u8], to: &Path, key_id: &str) -> anyhow::Result<u64> {
        let key = self.key(key_id)?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| anyhow!("no randomness for a nonce"))?;
        let id = key_id.as_bytes();
        let len = u16::try_from(id.len()).context("key ID too long")?;
        let mut head = MAGIC.to_vec();
        head.extend(len.to_be_bytes());
        head.extend(id);
        let mut body = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&head),
            &mut body,
        )
        .map_err(|_| anyhow!("encryption failed"))?;
        let mut out = head;
        out.extend(nonce);
        out.extend(body);
        write_atomic(to, &out)?;
        Ok(out.len() as u64)
    }

    /// The plaintext of `data`: decrypted when it is an encrypted file, else as is.
    pub fn plaintext(&self, data: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        let Some(rest) = data.strip_prefix(MAGIC) else {
            return Ok(data);
        };
        let bad = || anyhow!("damaged encrypted file");
        let len = usize::from(u16::from_be_bytes(
            rest.get(..2).ok_or_else(bad)?.try_into()?,
        ));
        let id = rest.get(2..2 + len).ok_or_else(bad)?;
        let key_id = std::str::from_utf8(id).map_err(|_| bad())?;
        let head_len = MAGIC.len() + 2 + len;
        let nonce: [u8; NONCE_LEN] = data
            .get(head_len..head_len + NONCE_LEN)
            .ok_or_else(bad)?
            .try_into()?;
        let mut body = data[head_len + NONCE_LEN..].to_vec();
        let key = self.key(key_id)?;
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&data[..head_len]),
                &mut body,
            )
            .map_err(|_| anyhow!("cannot decrypt with key {key_id}"))?;
        Ok(plain.to_vec())
    }

    /// Copy `from` to `to`, decrypting an encrypted file (a restore).
    pub fn copy_plain(&self, from: &Path, to: &Path) -> anyhow::Result<()> {
        let data = std::fs::read(from).with_context(|| format!("read {}", from.display()))?;
        let plain = self.plaintext(data)?;
        std::fs::write(to, plain).with_context(|| format!("write {}", to.display()))
    }
}

fn write_private_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("write {}", path.display()))
}

fn write_atomic(to: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = to.parent().context("target has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        to.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("rename into {}", to.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_per_key_and_tamper_evident() {
        let dir = tempfile::tempdir().unwrap();
        let ks = KeyStore::new(&dir.path().join("kms"));
        let f = dir.path().join("a.rdb");
        let plain = b"REDIS0011 secret-value".to_vec();
        ks.write_encrypted(&plain, &f, DEFAULT_KEY_ID).unwrap();
        let on_disk = std::fs::read(&f).unwrap();
        assert!(on_disk.starts_with(MAGIC));
        assert!(!on_disk.windows(12).any(|w| w == b"secret-value"));
        assert_eq!(ks.plaintext(on_disk.clone()).unwrap(), plain);
        // Plain files pass through.
        assert_eq!(ks.plaintext(plain.clone()).unwrap(), plain);
        // Another key ID has another key; a flipped byte fails.
        let g = dir.path().join("b.rdb");
        ks.write_encrypted(&plain, &g, "arn:aws:kms:us-east-1:000000000000:key/k1")
            .unwrap();
        assert_eq!(ks.plaintext(std::fs::read(&g).unwrap()).unwrap(), plain);
        let mut bad = on_disk;
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(ks.plaintext(bad).is_err());
        let m = std::fs::metadata(dir.path().join("kms")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
            0o700
        );
    }
}
