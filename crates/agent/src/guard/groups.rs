//! Who is in which group: `/etc/passwd` (primary groups, uids) and `/etc/group` (members) under the agent's
//! root directory, re-read at most every minute, parsed defensively (size-capped, odd lines skipped).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The files are re-read at most this often.
pub const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// Bytes read of each file at most.
const MAX_FILE_BYTES: u64 = 4 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// The host's users and groups as last read.
#[derive(Debug)]
pub(crate) struct Membership {
    rootfs: PathBuf,
    read_at: Option<Instant>,
    /// User name → (uid, primary gid).
    users: HashMap<String, (u32, u32)>,
    groups: Vec<Group>,
}

impl Membership {
    pub fn new(rootfs: &Path) -> Membership {
        Membership { rootfs: rootfs.to_path_buf(), read_at: None, users: HashMap::new(), groups: Vec::new() }
    }

    /// Whether `user` (a name, or a uid as audit records give it) belongs to one of `allowed`, as a member or
    /// by its primary group; a user the files do not know belongs to none.
    pub fn in_any(&mut self, user: &str, allowed: &[String], now: Instant) -> bool {
        self.refresh(now);
        let name = match self.users.contains_key(user) {
            true => Some(user),
            false => user
                .parse::<u32>()
                .ok()
                .and_then(|uid| self.users.iter().find(|(_, (u, _))| *u == uid).map(|(n, _)| n.as_str())),
        };
        let Some(name) = name else { return false };
        let primary = self.users.get(name).map(|(_, gid)| *gid);
        self.groups
            .iter()
            .filter(|g| allowed.iter().any(|a| a == &g.name))
            .any(|g| Some(g.gid) == primary || g.members.iter().any(|m| m == name))
    }

    fn refresh(&mut self, now: Instant) {
        if self.read_at.is_some_and(|t| now.saturating_duration_since(t) < REFRESH_EVERY) {
            return;
        }
        self.read_at = Some(now);
        let passwd = self.read("etc/passwd");
        let group = self.read("etc/group");
        self.users = passwd.lines().filter_map(parse_passwd).collect();
        self.groups = group.lines().filter_map(parse_group).collect();
    }

    /// The file's text, up to the cap (invalid UTF-8 replaced); empty when it cannot be read.
    fn read(&self, rel: &str) -> String {
        let path = self.rootfs.join(rel);
        let mut buf = Vec::new();
        match std::fs::File::open(&path).and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut buf)) {
            Ok(_) => String::from_utf8_lossy(&buf).into_owned(),
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "cannot read the account database");
                String::new()
            }
        }
    }
}

/// `name:x:uid:gid:gecos:home:shell` → `(name, (uid, gid))`.
fn parse_passwd(line: &str) -> Option<(String, (u32, u32))> {
    let mut f = line.split(':');
    let name = f.next().filter(|n| valid_name(n))?;
    let _password = f.next()?;
    let uid = f.next()?.parse().ok()?;
    let gid = f.next()?.parse().ok()?;
    Some((name.to_string(), (uid, gid)))
}

/// `name:x:gid:a,b,c`.
fn parse_group(line: &str) -> Option<Group> {
    let mut f = line.split(':');
    let name = f.next().filter(|n| valid_name(n))?;
    let _password = f.next()?;
    let gid = f.next()?.parse().ok()?;
    let members = f.next()?.split(',').map(str::trim).filter(|m| valid_name(m)).map(str::to_string).collect();
    Some(Group { name: name.to_string(), gid, members })
}

/// Not a comment, not NIS's `+`/`-` lines, not empty, not absurdly long.
fn valid_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 256 && !n.starts_with(['#', '+', '-']) && !n.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        ["sudo", "wheel"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn members_primary_groups_and_odd_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\n# comment\n+nis\nann:x:1000:1000::/home/ann:/bin/sh\n\
             bob:x:1001:27::/home/bob:/bin/sh\ncarl:x:1002:1002::/home/carl:/bin/sh\nbroken:x:zz:1\n\
             short:x\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nsudo:x:27:ann, dave\nwheel:x:10\nann:x:1000:\ncarl:x:1002:\n\u{0}\u{1}garbage\n",
        )
        .unwrap();
        let mut m = Membership::new(dir.path());
        let now = Instant::now();
        assert!(m.in_any("ann", &allowed(), now), "member of sudo");
        assert!(m.in_any("bob", &allowed(), now), "primary group sudo");
        assert!(m.in_any("1001", &allowed(), now), "by uid");
        assert!(!m.in_any("carl", &allowed(), now));
        assert!(!m.in_any("dave", &allowed(), now), "not in passwd");
        assert!(!m.in_any("nobody", &allowed(), now));
        assert!(m.in_any("root", &["root".to_string()], now));
        // Changes are seen after the refresh interval, not before.
        std::fs::write(dir.path().join("etc/group"), "sudo:x:27:ann,carl\n").unwrap();
        assert!(!m.in_any("carl", &allowed(), now + Duration::from_secs(1)));
        assert!(m.in_any("carl", &allowed(), now + REFRESH_EVERY));
    }

    #[test]
    fn missing_files_know_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Membership::new(dir.path());
        assert!(!m.in_any("root", &["root".to_string()], Instant::now()));
    }
}
