//! The local servers by name. Each registration gets an id of its own, so
//! that a driver acting on a stale one (a server that went away while a
//! message was on its way to it) never removes or replaces its name's
//! current one.

use crate::net::error::NetError;
use crate::net::fast_hash::FastMap;

/// What the routing rules ask of a server's handle.
pub(crate) trait Handle: Clone {
    /// The server is gone (its name may be taken again).
    fn is_closed(&self) -> bool;
    /// The server takes GenServer requests read straight from the received
    /// text ([`Body::Request`](super::Body::Request)) rather than whole
    /// payloads.
    fn takes_requests(&self) -> bool;
}

/// A registered server name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Registration<H> {
    pub(crate) id: u64,
    pub(crate) handle: H,
}

/// The servers of one node. Closing (when the kernel stops) removes them
/// all and refuses registrations from then on.
#[derive(Debug)]
pub(crate) struct Targets<H> {
    by_name: FastMap<String, Registration<H>>,
    next_id: u64,
    closed: bool,
}

impl<H> Default for Targets<H> {
    fn default() -> Self {
        Targets {
            by_name: FastMap::default(),
            next_id: 0,
            closed: false,
        }
    }
}

impl<H: Handle> Targets<H> {
    /// Registers `name`, free or held by a server that is gone: the new
    /// registration's id.
    pub(crate) fn register(&mut self, name: &str, handle: H) -> Result<u64, NetError> {
        if self.closed {
            return Err(NetError::Stopped);
        }
        if self.is_registered(name) {
            return Err(NetError::NameTaken(name.to_owned()));
        }
        let id = self.next_id;
        self.next_id += 1;
        self.by_name
            .insert(name.to_owned(), Registration { id, handle });
        Ok(id)
    }

    /// Gives registration `id` of `name` a new handle, if it is still the
    /// name's current one.
    pub(crate) fn replace(&mut self, name: &str, id: u64, handle: H) -> bool {
        match self.by_name.get_mut(name).filter(|r| r.id == id) {
            Some(r) => {
                r.handle = handle;
                true
            }
            None => false,
        }
    }

    pub(crate) fn unregister(&mut self, name: &str) {
        self.by_name.remove(name);
    }

    /// Removes registration `id` of `name`, if it is still the current one.
    pub(crate) fn unregister_id(&mut self, name: &str, id: u64) {
        if self.by_name.get(name).is_some_and(|r| r.id == id) {
            self.by_name.remove(name);
        }
    }

    /// The server a message for `name` goes to.
    pub(crate) fn lookup(&self, name: &str) -> Option<Registration<H>> {
        self.by_name.get(name).cloned()
    }

    pub(crate) fn is_registered(&self, name: &str) -> bool {
        self.by_name
            .get(name)
            .is_some_and(|r| !r.handle.is_closed())
    }

    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.by_name.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;

    /// A handle whose server can be made to go away.
    #[derive(Clone, Default)]
    struct Server(Rc<Cell<bool>>);

    impl Handle for Server {
        fn is_closed(&self) -> bool {
            self.0.get()
        }
        fn takes_requests(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_name_is_taken_once_until_its_server_is_gone() {
        let mut t = Targets::default();
        let first = Server::default();
        let id = t.register("echo", first.clone()).unwrap();
        assert!(
            matches!(t.register("echo", Server::default()), Err(NetError::NameTaken(n)) if n == "echo")
        );
        assert!(t.is_registered("echo"));
        first.0.set(true);
        assert!(!t.is_registered("echo"));
        let again = t.register("echo", Server::default()).unwrap();
        assert_ne!(id, again);
        // The stale registration neither removes nor replaces the new one.
        t.unregister_id("echo", id);
        assert!(!t.replace("echo", id, Server::default()));
        assert_eq!(t.lookup("echo").map(|r| r.id), Some(again));
        assert!(t.replace("echo", again, Server::default()));
        t.unregister_id("echo", again);
        assert!(t.lookup("echo").is_none());
    }

    #[test]
    fn closing_removes_every_server_and_refuses_new_ones() {
        let mut t = Targets::default();
        t.register("a", Server::default()).unwrap();
        t.close();
        assert!(t.lookup("a").is_none());
        assert!(matches!(
            t.register("b", Server::default()),
            Err(NetError::Stopped)
        ));
    }
}
