//! The commands of the CLI: parsing their words into the `{event, data}` a
//! node's command server takes (PROTOCOL §6), and their help texts.

use std::fmt;

use serde_json::{json, Value};

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send `event` with `data` to the node.
    Request { event: &'static str, data: Value },
    /// Print help: the list of commands, or one command's.
    Help(Option<String>),
    /// Leave the interactive session.
    Quit,
}

/// Bad arguments for a command: nothing is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageError {
    pub message: String,
    /// The usage line of the command concerned, if it is known.
    pub usage: Option<&'static str>,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(usage) = self.usage {
            write!(f, "\nusage: {usage}")?;
        }
        Ok(())
    }
}

/// What the command takes besides its positional arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flags {
    None,
    Force,
    ForceWeight,
}

/// The description of one command.
pub struct Spec {
    pub name: &'static str,
    pub usage: &'static str,
    pub summary: &'static str,
    details: &'static str,
    arguments: &'static [(&'static str, &'static str)],
    flags: Flags,
    example: &'static str,
}

const FORCE_HELP: &str = "Run the change at once, without waiting for the \
gossip messages the node is still receiving to be processed first. Off by default.";

const NODE_ARGS: &[(&str, &str)] = &[
    ("<id>", "The id of the node."),
    ("<host>", "The host name or address the node listens on."),
    ("<port>", "The port the node listens on (a number)."),
];

const NODE_LIST_ARGS: &[(&str, &str)] = &[(
    "<id> <host> <port>",
    "A node, as its id, host and port; repeat for more nodes. \
     The targeted node itself is skipped.",
)];

/// Every command, in the order `help` lists them.
pub const SPECS: &[Spec] = &[
    Spec {
        name: "inspect",
        usage: "inspect",
        summary: "Prints the ring of the node: its factors and every virtual node.",
        details: "Prints the consistent hash ring as the node sees it: the replication \
                  factor (rfactor, also the default weight), the persistence factor \
                  (pfactor) and the tree of virtual nodes in key order.",
        arguments: &[],
        flags: Flags::None,
        example: "inspect",
    },
    Spec {
        name: "nodes",
        usage: "nodes",
        summary: "Prints the nodes of the node's ring.",
        details: "Prints every node (id, host and port) in the ring as the node sees it.",
        arguments: &[],
        flags: Flags::None,
        example: "nodes",
    },
    Spec {
        name: "has",
        usage: "has <id>",
        summary: "Prints whether a node is in the node's ring.",
        details: "Answers true when the node with this id is in the ring as the targeted \
                  node sees it, false otherwise.",
        arguments: &[("<id>", "The id of the node to look for.")],
        flags: Flags::None,
        example: "has bar",
    },
    Spec {
        name: "get",
        usage: "get <id>",
        summary: "Prints the host and port of a node in the node's ring.",
        details: "Prints the id, host and port of the node with this id, or an error \
                  when it is not in the ring as the targeted node sees it.",
        arguments: &[("<id>", "The id of the node to look up.")],
        flags: Flags::None,
        example: "get bar",
    },
    Spec {
        name: "weight",
        usage: "weight <id>",
        summary: "Prints the weight (number of virtual nodes) of a node.",
        details: "Prints how many virtual nodes the node with this id has in the ring, \
                  or an error when it is not in the ring as the targeted node sees it.",
        arguments: &[("<id>", "The id of the node to look up.")],
        flags: Flags::None,
        example: "weight bar",
    },
    Spec {
        name: "weights",
        usage: "weights",
        summary: "Prints the weight of every node in the node's ring.",
        details: "Prints an object mapping each node id in the ring to its number of \
                  virtual nodes.",
        arguments: &[],
        flags: Flags::None,
        example: "weights",
    },
    Spec {
        name: "join",
        usage: "join <id>",
        summary: "Makes the node join a ring, unless it already belongs to one.",
        details: "Makes the node a member of the ring named <id>. Fails when the node \
                  already belongs to a ring (leave it first).",
        arguments: &[("<id>", "The name of the ring to join.")],
        flags: Flags::None,
        example: "join ring",
    },
    Spec {
        name: "meet",
        usage: "meet <id> <host> <port>",
        summary: "Makes the node meet another node; the two rings merge.",
        details: "Makes the node introduce itself to another node. When the two meet for \
                  the first time their rings are merged and the result is gossiped around \
                  the cluster. This is the only transitive way to add a node: the met node \
                  shows up in the ring once it has answered.",
        arguments: NODE_ARGS,
        flags: Flags::None,
        example: "meet bar localhost 7023",
    },
    Spec {
        name: "leave",
        usage: "leave [--force]",
        summary: "Makes the node leave its ring.",
        details: "Makes the node leave the ring it belongs to: the other members are told, \
                  and the node is left alone in a ring of its own, in no cluster.",
        arguments: &[],
        flags: Flags::Force,
        example: "leave --force",
    },
    Spec {
        name: "insert",
        usage: "insert [--force] [--weight <n>] <id> <host> <port> [<weight>]",
        summary: "Inserts a node into the node's ring.",
        details: "Inserts a node into the ring as the targeted node sees it; the change is \
                  gossiped to the cluster. Unlike meet this is not transitive: it is a new \
                  event in the ring's history, which wins over older concurrent state.",
        arguments: &[
            ("<id>", "The id of the node to insert."),
            ("<host>", "The host name or address the node listens on."),
            ("<port>", "The port the node listens on (a number)."),
            ("<weight>", "Same as --weight."),
        ],
        flags: Flags::ForceWeight,
        example: "insert --weight 4 bar localhost 7023",
    },
    Spec {
        name: "minsert",
        usage: "minsert [--force] [--weight <n>] <id> <host> <port> [<id> <host> <port> ...]",
        summary: "Inserts several nodes into the node's ring at once.",
        details: "Like insert, for several nodes in one change.",
        arguments: NODE_LIST_ARGS,
        flags: Flags::ForceWeight,
        example: "minsert bar localhost 7023 baz localhost 7024",
    },
    Spec {
        name: "update",
        usage: "update [--force] <id> <host> <port> [<weight>]",
        summary: "Changes the weight of a node in the node's ring.",
        details: "Sets the number of virtual nodes of a node (inserting it if needed) in \
                  the ring as the targeted node sees it; the change is gossiped to the \
                  cluster.",
        arguments: &[
            ("<id>", "The id of the node to update."),
            ("<host>", "The host name or address the node listens on."),
            ("<port>", "The port the node listens on (a number)."),
            (
                "<weight>",
                "The new number of virtual nodes, a whole number of at least 1 \
                 (default: the ring's rfactor). --weight <n> may be used instead.",
            ),
        ],
        flags: Flags::ForceWeight,
        example: "update foo localhost 7022 4",
    },
    Spec {
        name: "remove",
        usage: "remove [--force] <id> <host> <port>",
        summary: "Removes a node from the node's ring.",
        details: "Removes a node from the ring as the targeted node sees it; the change is \
                  gossiped to the cluster.",
        arguments: NODE_ARGS,
        flags: Flags::Force,
        example: "remove bar localhost 7023",
    },
    Spec {
        name: "mremove",
        usage: "mremove [--force] <id> <host> <port> [<id> <host> <port> ...]",
        summary: "Removes several nodes from the node's ring at once.",
        details: "Like remove, for several nodes in one change.",
        arguments: NODE_LIST_ARGS,
        flags: Flags::Force,
        example: "mremove bar localhost 7023 baz localhost 7024",
    },
    Spec {
        name: "ping",
        usage: "ping",
        summary: "Checks that the node answers.",
        details: "Sends a ping to the node, which answers \"pong\".",
        arguments: &[],
        flags: Flags::None,
        example: "ping",
    },
    Spec {
        name: "help",
        usage: "help [<command>]",
        summary: "Lists the commands, or describes one.",
        details: "Without an argument, lists every command. With one, prints its usage, \
                  arguments and options.",
        arguments: &[("<command>", "The command to describe.")],
        flags: Flags::None,
        example: "help insert",
    },
];

/// Commands of the interactive session only.
const SESSION_COMMANDS: &[(&str, &str)] = &[("quit, exit", "Leaves the interactive session.")];

pub fn spec(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The list of commands, for `help`.
pub fn help_all(interactive: bool) -> String {
    let mut out = String::from("Commands:\n");
    let mut row = |left: &str, right: &str| {
        out.push_str(&format!("  {left:<10} {right}\n"));
    };
    for s in SPECS {
        row(s.name, s.summary);
    }
    if interactive {
        for (name, summary) in SESSION_COMMANDS {
            row(name, summary);
        }
    }
    out.push_str("\nType `help <command>` for the arguments and options of a command.");
    out
}

/// The help of one command.
pub fn help_one(name: &str) -> Result<String, UsageError> {
    if matches!(name, "quit" | "exit") {
        return Ok(format!(
            "Usage: {name}\n\nLeaves the interactive session (so does Ctrl-D)."
        ));
    }
    let s = spec(name).ok_or_else(|| unknown(name))?;
    let mut out = format!("Usage: {}\n\n{}\n", s.usage, wrap(s.details, 78, ""));
    let rows = s.arguments;
    let options: &[(&str, &str)] = match s.flags {
        Flags::None => &[],
        Flags::Force => &[("-f, --force", FORCE_HELP)],
        Flags::ForceWeight => &[
            ("-f, --force", FORCE_HELP),
            (
                "-w, --weight <n>",
                "Number of virtual nodes to give each node, a whole number of at \
                 least 1. Default: the ring's rfactor.",
            ),
        ],
    };
    let width = rows
        .iter()
        .chain(options)
        .map(|(l, _)| l.len())
        .max()
        .unwrap_or(0);
    let mut section = |title: &str, rows: &[(&str, &str)]| {
        if rows.is_empty() {
            return;
        }
        out.push_str(&format!("\n{title}:\n"));
        let indent = " ".repeat(width + 4);
        for (left, right) in rows {
            let text = wrap(right, 78usize.saturating_sub(width + 4).max(30), &indent);
            out.push_str(&format!("  {left:<width$}  {text}\n"));
        }
    };
    section("Arguments", rows);
    section("Options", options);
    out.push_str(&format!("\nExample:\n  {}", s.example));
    Ok(out)
}

/// Word-wraps `text` to `width` columns, continuing lines with `indent`.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            out.push_str(indent);
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

fn unknown(name: &str) -> UsageError {
    UsageError {
        message: format!("unknown command '{name}' (type `help` for the list of commands)"),
        usage: None,
    }
}

/// Parses one command line, already split into words.
pub fn parse(words: &[String]) -> Result<Action, UsageError> {
    let Some((name, rest)) = words.split_first() else {
        return Err(UsageError {
            message: "no command given".into(),
            usage: None,
        });
    };
    match name.as_str() {
        "quit" | "exit" => return Ok(Action::Quit),
        "help" => {
            return match rest {
                [] => Ok(Action::Help(None)),
                [cmd] => Ok(Action::Help(Some(cmd.clone()))),
                _ => Err(too_many(&rest[1], spec("help"))),
            }
        }
        _ => {}
    }
    let s = spec(name).ok_or_else(|| unknown(name))?;
    let args = Args::split(s, rest)?;
    let usage = Some(s.usage);
    let event = s.name;
    let data = match event {
        "inspect" | "nodes" | "weights" | "ping" => {
            args.exact(0)?;
            Value::Null
        }
        "has" | "get" | "weight" | "join" => {
            args.exact(1)?;
            json!({ "id": args.pos[0] })
        }
        "leave" => {
            args.exact(0)?;
            json!({ "force": args.force })
        }
        "meet" => {
            args.exact(3)?;
            json!({ "node": node(&args.pos, usage)? })
        }
        "insert" | "update" => {
            args.between(3, 4)?;
            let weight = match (args.weight, args.pos.get(3)) {
                (Some(_), Some(w)) => {
                    return Err(UsageError {
                        message: format!("the weight is given twice (--weight and '{w}')"),
                        usage,
                    })
                }
                (Some(w), None) => Some(w),
                (None, Some(w)) => Some(parse_weight(w, usage)?),
                (None, None) => None,
            };
            json!({ "force": args.force, "weight": weight, "node": node(&args.pos[..3], usage)? })
        }
        "remove" => {
            args.exact(3)?;
            json!({ "force": args.force, "node": node(&args.pos, usage)? })
        }
        "minsert" => {
            let nodes = node_list(&args.pos, usage)?;
            json!({ "force": args.force, "weight": args.weight, "nodes": nodes })
        }
        "mremove" => {
            let nodes = node_list(&args.pos, usage)?;
            json!({ "force": args.force, "nodes": nodes })
        }
        other => return Err(unknown(other)),
    };
    Ok(Action::Request { event, data })
}

fn too_many(word: &str, s: Option<&'static Spec>) -> UsageError {
    UsageError {
        message: format!("unexpected argument '{word}'"),
        usage: s.map(|s| s.usage),
    }
}

/// A command's options and positional arguments.
struct Args<'a> {
    spec: &'static Spec,
    force: bool,
    weight: Option<u32>,
    pos: Vec<&'a str>,
}

impl<'a> Args<'a> {
    /// Separates options (anywhere before `--`) from positional arguments.
    fn split(spec: &'static Spec, words: &'a [String]) -> Result<Args<'a>, UsageError> {
        let usage = Some(spec.usage);
        let mut args = Args {
            spec,
            force: false,
            weight: None,
            pos: vec![],
        };
        let takes_force = spec.flags != Flags::None;
        let takes_weight = spec.flags == Flags::ForceWeight;
        let mut iter = words.iter();
        let mut options_done = false;
        while let Some(word) = iter.next() {
            let w = word.as_str();
            if options_done || !w.starts_with('-') || w == "-" {
                args.pos.push(w);
                continue;
            }
            match w {
                "--" => options_done = true,
                "-f" | "--force" if takes_force => args.force = true,
                "-w" | "--weight" if takes_weight => {
                    let value = iter.next().ok_or_else(|| UsageError {
                        message: format!("{w} needs a value"),
                        usage,
                    })?;
                    args.set_weight(value)?;
                }
                _ if takes_weight && w.starts_with("--weight=") => {
                    args.set_weight(&w["--weight=".len()..])?;
                }
                _ => {
                    return Err(UsageError {
                        message: format!("unknown option '{w}' for {}", spec.name),
                        usage,
                    })
                }
            }
        }
        Ok(args)
    }

    fn set_weight(&mut self, value: &str) -> Result<(), UsageError> {
        let usage = Some(self.spec.usage);
        if self.weight.is_some() {
            return Err(UsageError {
                message: "--weight is given twice".into(),
                usage,
            });
        }
        self.weight = Some(parse_weight(value, usage)?);
        Ok(())
    }

    fn exact(&self, n: usize) -> Result<(), UsageError> {
        self.between(n, n)
    }

    fn between(&self, min: usize, max: usize) -> Result<(), UsageError> {
        let usage = Some(self.spec.usage);
        if self.pos.len() > max {
            return Err(too_many(self.pos[max], Some(self.spec)));
        }
        if self.pos.len() < min {
            let names: Vec<&str> = self
                .spec
                .usage
                .split_whitespace()
                .filter(|w| w.starts_with('<'))
                .collect();
            let missing = names.get(self.pos.len()).copied().unwrap_or("argument");
            return Err(UsageError {
                message: format!("missing {missing}"),
                usage,
            });
        }
        Ok(())
    }
}

fn node(words: &[&str], usage: Option<&'static str>) -> Result<Value, UsageError> {
    match words {
        [id, host, port] => Ok(json!({ "id": id, "host": host, "port": parse_port(port, usage)? })),
        _ => Err(UsageError {
            message: "a node is given as <id> <host> <port>".into(),
            usage,
        }),
    }
}

fn node_list(words: &[&str], usage: Option<&'static str>) -> Result<Vec<Value>, UsageError> {
    if words.is_empty() {
        return Err(UsageError {
            message: "missing <id> <host> <port> of at least one node".into(),
            usage,
        });
    }
    if !words.len().is_multiple_of(3) {
        return Err(UsageError {
            message: format!(
                "nodes are given as <id> <host> <port> triples; '{}' is incomplete",
                words[words.len() - words.len() % 3..].join(" ")
            ),
            usage,
        });
    }
    words.chunks(3).map(|n| node(n, usage)).collect()
}

fn parse_port(text: &str, usage: Option<&'static str>) -> Result<u16, UsageError> {
    let port = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u16>().ok().filter(|p| *p > 0)
    } else {
        None
    };
    port.ok_or_else(|| UsageError {
        message: format!("<port> must be a number from 1 to 65535, not '{text}'"),
        usage,
    })
}

fn parse_weight(text: &str, usage: Option<&'static str>) -> Result<u32, UsageError> {
    let weight = if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().ok().filter(|w| *w > 0)
    } else {
        None
    };
    weight.ok_or_else(|| UsageError {
        message: format!("the weight must be a whole number of at least 1, not '{text}'"),
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Action, UsageError> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&words)
    }

    fn data(line: &str) -> String {
        match p(line) {
            Ok(Action::Request { data, .. }) => notp::wire::js_json::to_string(&data),
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn argument_objects_have_the_protocol_shapes() {
        assert_eq!(data("ping"), "null");
        assert_eq!(data("get bar"), r#"{"id":"bar"}"#);
        assert_eq!(data("leave"), r#"{"force":false}"#);
        assert_eq!(data("leave -f"), r#"{"force":true}"#);
        assert_eq!(
            data("meet bar h 7023"),
            r#"{"node":{"id":"bar","host":"h","port":7023}}"#
        );
        assert_eq!(
            data("insert bar h 7023"),
            r#"{"force":false,"weight":null,"node":{"id":"bar","host":"h","port":7023}}"#
        );
        assert_eq!(
            data("insert --force bar h 7023 5"),
            r#"{"force":true,"weight":5,"node":{"id":"bar","host":"h","port":7023}}"#
        );
        assert_eq!(
            data("insert bar h 7023 -w 2"),
            r#"{"force":false,"weight":2,"node":{"id":"bar","host":"h","port":7023}}"#
        );
        assert_eq!(
            data("minsert --weight=2 a h 1 b h 2"),
            r#"{"force":false,"weight":2,"nodes":[{"id":"a","host":"h","port":1},{"id":"b","host":"h","port":2}]}"#
        );
        assert_eq!(
            data("mremove -f a h 1"),
            r#"{"force":true,"nodes":[{"id":"a","host":"h","port":1}]}"#
        );
        assert_eq!(
            data("update a h 1 4"),
            r#"{"force":false,"weight":4,"node":{"id":"a","host":"h","port":1}}"#
        );
        assert_eq!(
            data("remove -- -a h 1"),
            r#"{"force":false,"node":{"id":"-a","host":"h","port":1}}"#
        );
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        for line in [
            "get",
            "get a b",
            "meet a h",
            "meet a h port",
            "meet a h 0",
            "meet a h 70000",
            "insert a h 1 0",
            "insert a h 1 x",
            "insert -w 2 a h 1 3",
            "insert -w",
            "minsert",
            "minsert a h 1 b",
            "mremove a h x",
            "leave --now",
            "ping -f",
            "frobnicate",
            "help a b",
        ] {
            assert!(p(line).is_err(), "{line}");
        }
        let e = p("meet a h").unwrap_err();
        assert_eq!(
            e.to_string(),
            "missing <port>\nusage: meet <id> <host> <port>"
        );
    }

    #[test]
    fn every_command_has_help() {
        for s in SPECS {
            let text = help_one(s.name).unwrap();
            assert!(text.starts_with(&format!("Usage: {}", s.usage)));
            assert!(help_all(false).contains(s.name));
        }
        assert!(help_one("insert").unwrap().contains("--force"));
        assert!(help_one("nope").is_err());
    }
}
