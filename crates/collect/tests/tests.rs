//! Fixture tests of every collector: hand-made /proc and /sys trees, including truncated and garbage files.

mod common;

mod conntrack;
mod cpu;
mod diskstats;
mod entropy;
mod filefd;
mod filesystem;
mod hwmon;
mod loadavg;
mod meminfo;
mod netclass;
mod netdev;
mod netstat;
mod pressure;
mod sockstat;
mod stat;
mod systemd;
mod tcpstat;
mod time;
mod uname;
mod vmstat;
