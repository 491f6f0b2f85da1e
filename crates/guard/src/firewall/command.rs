//! The custom-command ban action: argument-vector templates with `<ip>`, `<timeout>` and `<family>`
//! placeholders, filled with validated values and run without a shell.

use std::net::IpAddr;

use super::run::{run, DEADLINE};
use super::{wire_addr, Firewall, FirewallError, OptionsError};

/// The commands to run, one argument per element: `["/usr/local/bin/block", "--ip", "<ip>", "--for=<timeout>s"]`.
/// Placeholders may be a whole argument or part of one, but not in the program itself: `<ip>` (the address in
/// its canonical form, IPv4-mapped IPv6 as IPv4), `<timeout>` (seconds, at least 1; ban only) and `<family>`
/// (`inet` or `inet6`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandAction {
    pub ban: Vec<String>,
    pub unban: Vec<String>,
}

/// The custom-command backend.
#[derive(Debug)]
pub struct CustomCommand {
    ban: Vec<Vec<Piece>>,
    unban: Vec<Vec<Piece>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Ip,
    Timeout,
    Family,
}

impl CustomCommand {
    pub fn new(action: CommandAction) -> Result<CustomCommand, OptionsError> {
        let ban = compile("ban command", &action.ban)?;
        let unban = compile("unban command", &action.unban)?;
        if let Some(index) = unban.iter().position(|p| p.contains(&Piece::Timeout)) {
            let arg = action.unban[index].clone();
            return Err(OptionsError::TimeoutInUnban { what: "unban command", index, arg });
        }
        Ok(CustomCommand { ban, unban })
    }

    /// The argument vector banning `ip` for `timeout_s` seconds.
    pub fn ban_argv(&self, ip: IpAddr, timeout_s: u64) -> Vec<String> {
        fill(&self.ban, wire_addr(ip), timeout_s.max(1))
    }

    /// The argument vector unbanning `ip`.
    pub fn unban_argv(&self, ip: IpAddr) -> Vec<String> {
        fill(&self.unban, wire_addr(ip), 0)
    }
}

impl Firewall for CustomCommand {
    fn name(&self) -> &'static str {
        "command"
    }

    /// A custom command has nothing to set up.
    fn prepare(&mut self) -> Result<(), FirewallError> {
        Ok(())
    }

    fn ban(&mut self, ip: IpAddr, timeout_s: u64) -> Result<(), FirewallError> {
        exec(&self.ban_argv(ip, timeout_s), &format!("ban command for {ip}"))
    }

    fn unban(&mut self, ip: IpAddr) -> Result<(), FirewallError> {
        exec(&self.unban_argv(ip), &format!("unban command for {ip}"))
    }
}

fn exec(argv: &[String], what: &str) -> Result<(), FirewallError> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let action = format!("{what} ({program})");
    run(argv, None, &action, DEADLINE)?.ok(&action).map(drop)
}

fn compile(what: &'static str, argv: &[String]) -> Result<Vec<Vec<Piece>>, OptionsError> {
    super::check_program(what, argv)?;
    let mut out = Vec::with_capacity(argv.len());
    for (index, arg) in argv.iter().enumerate() {
        let pieces = split(arg).map_err(|placeholder| OptionsError::UnknownPlaceholder {
            what,
            index,
            arg: arg.clone(),
            placeholder,
        })?;
        if index == 0 && pieces.iter().any(|p| !matches!(p, Piece::Text(_))) {
            return Err(OptionsError::PlaceholderInProgram { what, arg: arg.clone() });
        }
        out.push(pieces);
    }
    Ok(out)
}

/// Splits one argument into text and placeholders. `<word>` (letters, digits, `_`, `-`) is a placeholder and
/// must be a known one, so a typo such as `<IP>` is refused rather than passed on literally; any other `<`
/// is text.
fn split(arg: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word_len =
            after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(after.len());
        if word_len == 0 || !after[word_len..].starts_with('>') {
            text.push('<');
            rest = after;
            continue;
        }
        let piece = match &after[..word_len] {
            "ip" => Piece::Ip,
            "timeout" => Piece::Timeout,
            "family" => Piece::Family,
            other => return Err(format!("<{other}>")),
        };
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(piece);
        rest = &after[word_len + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn fill(template: &[Vec<Piece>], ip: IpAddr, timeout_s: u64) -> Vec<String> {
    template
        .iter()
        .map(|pieces| {
            let mut arg = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => arg.push_str(t),
                    Piece::Ip => arg.push_str(&ip.to_string()),
                    Piece::Timeout => arg.push_str(&timeout_s.to_string()),
                    Piece::Family => arg.push_str(if ip.is_ipv4() { "inet" } else { "inet6" }),
                }
            }
            arg
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cmd(ban: &[&str], unban: &[&str]) -> Result<CustomCommand, OptionsError> {
        CustomCommand::new(CommandAction { ban: v(ban), unban: v(unban) })
    }

    #[test]
    fn placeholders_are_substituted_whole_and_inside_arguments() {
        let c = cmd(
            &["/usr/local/bin/block", "<ip>", "--for=<timeout>s", "<family>:<ip>", "a<b", "<>", "x<ip"],
            &["/usr/local/bin/unblock", "<ip>", "<family>"],
        )
        .unwrap();
        assert_eq!(
            c.ban_argv(ip("192.0.2.1"), 600),
            v(&["/usr/local/bin/block", "192.0.2.1", "--for=600s", "inet:192.0.2.1", "a<b", "<>", "x<ip"])
        );
        assert_eq!(c.ban_argv(ip("2001:db8::1"), 0)[2..4], v(&["--for=1s", "inet6:2001:db8::1"]));
        assert_eq!(c.unban_argv(ip("::ffff:198.51.100.4")), v(&["/usr/local/bin/unblock", "198.51.100.4", "inet"]));
        // An argument that is only an empty string stays one.
        assert_eq!(cmd(&["echo", ""], &["echo"]).unwrap().ban_argv(ip("192.0.2.1"), 1), v(&["echo", ""]));
    }

    #[test]
    fn bad_templates_are_refused() {
        let e = cmd(&[], &["true"]).unwrap_err();
        assert_eq!(e.to_string(), "firewall ban command: the command is empty");
        assert!(matches!(cmd(&["true"], &[""]), Err(OptionsError::EmptyCommand { what: "unban command" })));
        let e = cmd(&["block", "<IP>"], &["true"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "firewall ban command: argument 1 (\"<IP>\") has unknown placeholder \"<IP>\"; known are <ip>, <timeout>, <family>"
        );
        assert!(matches!(cmd(&["block", "--x=<ips>"], &["true"]), Err(OptionsError::UnknownPlaceholder { .. })));
        assert!(matches!(cmd(&["<ip>"], &["true"]), Err(OptionsError::PlaceholderInProgram { .. })));
        assert!(matches!(cmd(&["/bin/<family>/x"], &["true"]), Err(OptionsError::PlaceholderInProgram { .. })));
        let e = cmd(&["true"], &["unblock", "<ip>", "<timeout>"]).unwrap_err();
        assert_eq!(e, OptionsError::TimeoutInUnban { what: "unban command", index: 2, arg: "<timeout>".into() });
    }

    #[test]
    fn runs_without_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args");
        let out = out.to_str().unwrap();
        // The program gets its arguments one by one; nothing is interpreted by a shell.
        let script = "printf '%s|' \"$@\" > \"$0\"";
        let mut c = cmd(&["sh", "-c", script, out, "<ip>", "<timeout>", "$(id)"], &["false"]).unwrap();
        c.ban(ip("192.0.2.1"), 30).unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), "192.0.2.1|30|$(id)|");
        let e = c.unban(ip("192.0.2.1")).unwrap_err();
        assert_eq!(e.to_string(), "unban command for 192.0.2.1 (false): exit status 1");
    }
}
