//! The state a node saves at its flush path (`{ring, actor, chash,
//! vclock}`, as the original writes it) and reads back when it starts.
//!
//! Reading is one function, so every door reads the file the same way and
//! a start reads it once: a door that shows the saved ring before its node
//! starts (the Node door's `load` before `start`) hands what it read to
//! the start ([`super::Restore::Read`]) rather than reading again.

use std::path::Path;

use serde_json::Value;

use crate::gossip::{Gossip, GossipOptions, Rng};
use crate::{CHash, Error, Node, VectorClock};

/// A node's saved state, checked field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    /// The ring the node belonged to (`None`: it had left).
    pub ring_id: Option<String>,
    pub actor: Option<String>,
    pub ring: CHash,
    pub clock: VectorClock,
}

impl SavedState {
    /// Reads the state saved at `opts.flush_path` for node `me`. `None`
    /// when there is no flush path or no file there; an unreadable file or
    /// one that is not a saved state is an error.
    pub fn read(opts: &GossipOptions, me: &Node) -> Result<Option<SavedState>, Error> {
        let Some(path) = &opts.flush_path else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::invalid(
                    "flushPath",
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        };
        let value: Value = serde_json::from_str(&text).map_err(|_| invalid_blob(path))?;
        // The state machine's own rules check the fields.
        let mut state = Gossip::new(me.clone(), opts.clone(), Rng::seeded(0));
        state
            .load_persisted(&value)
            .map_err(|_| invalid_blob(path))?;
        Ok(Some(SavedState::of(&state)))
    }

    /// What `state` would save.
    pub(crate) fn of(state: &Gossip) -> SavedState {
        SavedState {
            ring_id: state.ring_id().map(str::to_owned),
            actor: state.actor().map(str::to_owned),
            ring: state.ring().clone(),
            clock: state.clock().clone(),
        }
    }

    /// The JSON the original persists.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "ring": self.ring_id,
            "actor": self.actor,
            "chash": self.ring.to_value(),
            "vclock": self.clock.to_value(),
        })
    }
}

/// The original's message for a flush file that is not a saved state.
fn invalid_blob(path: &Path) -> Error {
    Error::invalid(
        "flushPath",
        format!(
            "File at path '{}' contains invalid JSON blob.",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(path: &Path) -> GossipOptions {
        GossipOptions {
            flush_path: Some(path.to_owned()),
            ..GossipOptions::default()
        }
    }

    #[test]
    fn no_path_or_no_file_is_nothing_saved_and_a_bad_file_is_an_error() {
        let me = Node::new("me", "h", 1);
        assert_eq!(
            SavedState::read(&GossipOptions::default(), &me).unwrap(),
            None
        );
        let dir = std::env::temp_dir().join(format!("notp-saved-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ring.json");
        assert_eq!(SavedState::read(&opts(&path), &me).unwrap(), None);

        let mut state = Gossip::new(me.clone(), GossipOptions::default(), Rng::seeded(1));
        state.join("r").unwrap();
        state.insert(&Node::new("x", "h", 2), Some(4)).unwrap();
        let saved = SavedState::of(&state);
        std::fs::write(&path, saved.to_value().to_string()).unwrap();
        let read = SavedState::read(&opts(&path), &me).unwrap().unwrap();
        assert_eq!(read, saved);
        assert_eq!(read.ring_id.as_deref(), Some("r"));

        for bad in ["{not json", r#"{"ring":"r","chash":{"tree":5}}"#] {
            std::fs::write(&path, bad).unwrap();
            let err = SavedState::read(&opts(&path), &me).unwrap_err().to_string();
            assert!(err.contains("contains invalid JSON blob."), "{err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
