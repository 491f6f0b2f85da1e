//! The HTTP authentication pieces both clients need: the `Basic` header value and capped reads of secret files.

use std::io::Read;
use std::path::Path;

/// Secret files are small; a bigger one is a mistake.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// `Basic <base64(username:password)>`, the `Authorization` header value of basic auth.
pub fn basic_auth(username: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{username}:{password}").as_bytes()))
}

/// A secret file's content with surrounding whitespace trimmed (as prometheus/common reads them); refused when
/// larger than [`MAX_SECRET_FILE_BYTES`].
pub fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_SECRET_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(std::io::Error::other(format!("larger than {MAX_SECRET_FILE_BYTES} bytes")));
    }
    Ok(text.trim().to_owned())
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(basic_auth("u", "p"), "Basic dTpw");
    }

    #[test]
    fn secret_files_are_trimmed_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap(), "s3cret");
        std::fs::write(&path, vec![b'a'; MAX_SECRET_FILE_BYTES as usize + 1]).unwrap();
        assert!(read_secret_file(&path).is_err());
    }
}
