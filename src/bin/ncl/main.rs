//! `ncl`: the command-line tool of notp. Talks to one node's command server
//! to inspect and change its ring, wire-compatible with the original
//! `bin/cli.js` (PROTOCOL §6). One command given on the command line runs
//! once; none starts an interactive session.

mod args;
mod client;
mod commands;
mod pretty;
mod repl;

use std::io::Write;

use clap::Parser;

use args::{Cli, EXIT_OK, EXIT_REFUSED, EXIT_USAGE};
use client::Client;
use commands::Action;

fn main() {
    std::process::exit(run());
}

fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are not errors.
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    let target = cli.target();
    if cli.command.is_empty() {
        return repl::run(target);
    }
    let mut client = Client::new(target);
    match commands::parse(&cli.command) {
        Ok(action) => execute(&mut client, action, false).exit_code,
        Err(e) => {
            print_err(&e.to_string());
            EXIT_USAGE
        }
    }
}

/// What running one command line did.
pub struct Outcome {
    pub exit_code: i32,
    pub quit: bool,
}

/// Runs one parsed command line: prints the answer (or help) on stdout and
/// problems on stderr.
pub fn execute(client: &mut Client, action: Action, interactive: bool) -> Outcome {
    let done = |exit_code| Outcome {
        exit_code,
        quit: false,
    };
    match action {
        Action::Quit => Outcome {
            exit_code: EXIT_OK,
            quit: true,
        },
        Action::Help(None) => {
            print_out(&commands::help_all(interactive));
            done(EXIT_OK)
        }
        Action::Help(Some(name)) => match commands::help_one(&name) {
            Ok(text) => {
                print_out(&text);
                done(EXIT_OK)
            }
            Err(e) => {
                print_err(&e.to_string());
                done(EXIT_USAGE)
            }
        },
        Action::Request { event, data } => match client.request(event, &data) {
            Ok(answer) => {
                print_out(&pretty::to_string(&answer));
                done(if client::is_ok(&answer) {
                    EXIT_OK
                } else {
                    EXIT_REFUSED
                })
            }
            Err(e) => {
                print_err(&e.message(client.target()));
                done(e.exit_code())
            }
        },
    }
}

/// Prints a line on stdout; a closed stdout is not worth a panic.
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Prints `ncl: <text>` on stderr.
pub fn print_err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "ncl: {text}");
}
