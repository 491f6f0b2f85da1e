//! Choosing a ban action from configuration: `detect`, `nftables`, `iptables` or `command`, behind one type.

use std::net::IpAddr;

use super::{
    CommandAction, CustomCommand, Detect, Firewall, FirewallError, IptOptions, Iptables, ListedBan, NftOptions,
    Nftables, OptionsError,
};

/// Which ban action to use, with its settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BackendOptions {
    /// Record and alert only (the default of `vigil up`).
    #[default]
    Detect,
    Nftables(NftOptions),
    Iptables(IptOptions),
    Command(CommandAction),
}

impl BackendOptions {
    /// The options of a backend given by name (`detect`, `nftables`, `iptables`), with its defaults;
    /// `command` needs its templates and is not built from a name.
    pub fn named(name: &str) -> Option<BackendOptions> {
        match name {
            "detect" => Some(BackendOptions::Detect),
            "nftables" => Some(BackendOptions::Nftables(NftOptions::default())),
            "iptables" => Some(BackendOptions::Iptables(IptOptions::default())),
            _ => None,
        }
    }
}

/// A ban action picked at run time.
#[derive(Debug)]
pub enum Backend {
    Detect(Detect),
    Nftables(Nftables),
    Iptables(Iptables),
    Command(CustomCommand),
}

impl Backend {
    /// Checks the options (names, programs, placeholders) and builds the backend; runs nothing.
    pub fn from_options(options: BackendOptions) -> Result<Backend, OptionsError> {
        Ok(match options {
            BackendOptions::Detect => Backend::Detect(Detect),
            BackendOptions::Nftables(o) => Backend::Nftables(Nftables::new(o)?),
            BackendOptions::Iptables(o) => Backend::Iptables(Iptables::new(o)?),
            BackendOptions::Command(o) => Backend::Command(CustomCommand::new(o)?),
        })
    }

    /// The addresses the firewall holds, for backends that can say (`None` for `detect` and `command`).
    pub fn list(&mut self) -> Result<Option<Vec<ListedBan>>, FirewallError> {
        match self {
            Backend::Nftables(f) => f.list().map(Some),
            Backend::Iptables(f) => f.list().map(Some),
            Backend::Detect(_) | Backend::Command(_) => Ok(None),
        }
    }

    fn inner(&mut self) -> &mut dyn Firewall {
        match self {
            Backend::Detect(f) => f,
            Backend::Nftables(f) => f,
            Backend::Iptables(f) => f,
            Backend::Command(f) => f,
        }
    }
}

impl Firewall for Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Detect(f) => f.name(),
            Backend::Nftables(f) => f.name(),
            Backend::Iptables(f) => f.name(),
            Backend::Command(f) => f.name(),
        }
    }

    fn prepare(&mut self) -> Result<(), FirewallError> {
        self.inner().prepare()
    }

    fn ban(&mut self, ip: IpAddr, timeout_s: u64) -> Result<(), FirewallError> {
        self.inner().ban(ip, timeout_s)
    }

    fn unban(&mut self, ip: IpAddr) -> Result<(), FirewallError> {
        self.inner().unban(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_each_backend_by_name() {
        for name in ["detect", "nftables", "iptables"] {
            let b = Backend::from_options(BackendOptions::named(name).unwrap()).unwrap();
            assert_eq!(b.name(), name);
        }
        assert_eq!(BackendOptions::named("firewalld"), None);
        let action = CommandAction { ban: vec!["true".into()], unban: vec!["true".into()] };
        let mut b = Backend::from_options(BackendOptions::Command(action)).unwrap();
        assert_eq!(b.name(), "command");
        assert_eq!(b.list().unwrap(), None);
        b.prepare().unwrap();
        b.ban("192.0.2.1".parse().unwrap(), 5).unwrap();
        let bad = NftOptions { table: "x y".into(), ..NftOptions::default() };
        assert!(Backend::from_options(BackendOptions::Nftables(bad)).is_err());
        let mut d = Backend::from_options(BackendOptions::default()).unwrap();
        assert_eq!(d.name(), "detect");
        assert_eq!(d.list().unwrap(), None);
    }
}
