//! The interactive session: a `> ` prompt with line editing and history
//! (kept in `~/.ncl_history` when the session runs on a terminal and the file
//! can be written), running commands against one kept connection.

use std::io::IsTerminal;
use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use crate::args::{Target, EXIT_CONNECTION, EXIT_OK};
use crate::client::Client;
use crate::commands;
use crate::{execute, print_err};

const PROMPT: &str = "> ";

pub fn run(target: Target) -> i32 {
    let mut editor = match DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            print_err(&format!("cannot start the interactive session: {e}"));
            return EXIT_CONNECTION;
        }
    };
    let history = std::io::stdin().is_terminal().then(history_file).flatten();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }

    let mut client = Client::new(target.clone());
    match client.connect() {
        Ok(()) => eprintln!(
            "Connected to {}. Type `help` for the commands, `quit` to leave.",
            target.describe()
        ),
        Err(e) => print_err(&format!(
            "{}; each command will try again. Type `help` for the commands, `quit` to leave.",
            e.message(&target)
        )),
    }

    loop {
        match editor.readline(PROMPT) {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line);
                let action = split_words(line).and_then(|words| commands::parse(&words));
                match action {
                    Ok(action) => {
                        if execute(&mut client, action, true).quit {
                            break;
                        }
                    }
                    Err(e) => print_err(&e.to_string()),
                }
            }
            // Ctrl-C drops the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                print_err(&format!("cannot read the command line: {e}"));
                save(&mut editor, history.as_ref());
                return EXIT_CONNECTION;
            }
        }
    }
    save(&mut editor, history.as_ref());
    EXIT_OK
}

fn save(editor: &mut DefaultEditor, path: Option<&PathBuf>) {
    if let Some(path) = path {
        // History is a convenience: a read-only home is not an error.
        let _ = editor.save_history(path);
    }
}

fn history_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".ncl_history"))
}

/// Splits a command line into words: blanks separate words; single quotes
/// keep everything literally, double quotes allow `\"` and `\\`, and outside
/// quotes a backslash escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, commands::UsageError> {
    let mut words = vec![];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let unterminated = |what: &str| commands::UsageError {
        message: format!("unterminated {what} in the command line"),
        usage: None,
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unterminated("quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unterminated("quote")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unterminated("quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(unterminated("escape")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words("  insert  'a b' \"c\\\"d\" e\\ f '' ").unwrap(),
            vec!["insert", "a b", "c\"d", "e f", ""]
        );
        assert!(split_words("get 'a").is_err());
        assert!(split_words("get \"a").is_err());
        assert!(split_words("get a\\").is_err());
    }
}
