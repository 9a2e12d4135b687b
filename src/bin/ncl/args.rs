//! Command-line options: which node to talk to and how (the original CLI's
//! `-I`, `-H`, `-p`, `-a`, plus `-t`).

use std::time::Duration;

use clap::Parser;

/// Exit status: the command ran and the node answered `ok: true`.
pub const EXIT_OK: i32 = 0;
/// Exit status: the node answered `ok: false`.
pub const EXIT_REFUSED: i32 = 1;
/// Exit status: the node could not be reached.
pub const EXIT_UNREACHABLE: i32 = 2;
/// Exit status: no valid answer arrived in time (a wrong cookie, usually).
pub const EXIT_NO_ANSWER: i32 = 3;
/// Exit status: the connection broke, or the node sent something unreadable.
pub const EXIT_CONNECTION: i32 = 4;
/// Exit status: bad options or command arguments (sysexits' EX_USAGE).
pub const EXIT_USAGE: i32 = 64;

const AFTER_HELP: &str = "\
With a command, runs it once, prints the node's answer as JSON and exits.
Without one, starts an interactive session (type `help` there).

Commands: join leave meet insert minsert update remove mremove
          inspect nodes has get weight weights ping help
Run `ncl help <command>` for the arguments of a command.

Exit status: 0 the node answered ok, 1 the node answered with an error,
2 the node cannot be reached, 3 no valid answer in time (wrong cookie?),
4 the connection broke, 64 bad usage.";

/// Talks to one node of a notp cluster: inspects and changes its ring.
#[derive(Debug, Parser)]
#[command(
    name = "ncl",
    version,
    about = "Talks to one node of a notp cluster: inspects and changes its ring.",
    after_help = AFTER_HELP,
    override_usage = "ncl [OPTIONS] [COMMAND [ARG ...]]"
)]
pub struct Cli {
    /// Unique instance identifier of the node being connected to (default: this host's name).
    #[arg(short = 'I', long = "instance", value_name = "ID")]
    pub instance: Option<String>,

    /// Server hostname of the node being connected to (default: this host's name).
    #[arg(short = 'H', long = "hostname", value_name = "HOST")]
    pub hostname: Option<String>,

    /// Server port of the node being connected to.
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        default_value_t = 7022
    )]
    pub port: u16,

    /// Distributed cookie used to sign requests to the node and check its
    /// answers (the empty default is itself a key).
    #[arg(short = 'a', long = "key", value_name = "COOKIE", default_value = "")]
    pub key: String,

    /// How long to wait for the connection and for each answer, in milliseconds.
    #[arg(
        short = 't',
        long = "timeout",
        value_name = "MS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub timeout: u64,

    /// The command to run once, with its arguments; none starts a session.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<String>,
}

/// Where the commands go, with the defaults filled in.
#[derive(Debug, Clone)]
pub struct Target {
    /// The node's id (used for messages, and in `from`).
    pub instance: String,
    pub host: String,
    pub port: u16,
    pub key: String,
    pub timeout: Duration,
}

impl Cli {
    pub fn target(&self) -> Target {
        let host_name = || {
            let name = gethostname::gethostname().to_string_lossy().into_owned();
            if name.is_empty() {
                "localhost".to_owned()
            } else {
                name
            }
        };
        Target {
            instance: self.instance.clone().unwrap_or_else(host_name),
            host: self.hostname.clone().unwrap_or_else(host_name),
            port: self.port,
            key: self.key.clone(),
            timeout: Duration::from_millis(self.timeout),
        }
    }
}

impl Target {
    /// `foo at host:port`, for messages.
    pub fn describe(&self) -> String {
        format!("{} at {}", self.instance, self.address())
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
