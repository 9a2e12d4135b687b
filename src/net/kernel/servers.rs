//! Local servers: a name taken once per node, with a mailbox the server
//! reads, or a synchronous handler run by whoever delivers (see `inline`).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Kernel;
use crate::net::core::Handle;
use crate::net::error::NetError;
use crate::net::inline::{self, Handler, InlineCore};
use crate::net::message::{Delivery, Message};

/// A registered server's handle.
#[derive(Clone)]
pub(crate) enum Target {
    /// Messages wait in a mailbox that the server reads.
    Mailbox(mpsc::Sender<Message>),
    /// A synchronous handler, run by whoever delivers.
    Inline(Arc<InlineTarget>),
}

pub(crate) struct InlineTarget {
    /// The server's queue, for messages that cannot run at once.
    pub(crate) tx: mpsc::Sender<Delivery>,
    pub(crate) core: Arc<InlineCore>,
    /// The server takes GenServer requests split into event and data
    /// rather than whole payloads.
    split: bool,
}

impl Handle for Target {
    fn is_closed(&self) -> bool {
        match self {
            Target::Mailbox(tx) => tx.is_closed(),
            Target::Inline(inline) => inline.tx.is_closed() || inline.core.is_dead(),
        }
    }

    fn takes_requests(&self) -> bool {
        matches!(self, Target::Inline(inline) if inline.split)
    }
}

impl Kernel {
    /// Registers a local server name and returns its mailbox. One name per
    /// node: a taken name is an error.
    pub fn register(&self, name: &str) -> Result<mpsc::Receiver<Message>, NetError> {
        self.register_mailbox(name).map(|(_, rx)| rx)
    }

    /// [`register`](Self::register), with the registration's id.
    pub(crate) fn register_mailbox(
        &self,
        name: &str,
    ) -> Result<(u64, mpsc::Receiver<Message>), NetError> {
        let (tx, rx) = mpsc::channel(self.inner.opts.mailbox);
        let id = self
            .inner
            .targets_mut()
            .register(name, Target::Mailbox(tx))?;
        Ok((id, rx))
    }

    /// Turns registration `id` of `name` (a mailbox, `mailbox` its
    /// receiving end) into a synchronous server that runs `handler` on the
    /// task delivering each message (see `inline`). Returns the server's
    /// task, which handles what the mailbox already holds first, and
    /// whatever cannot run at once later.
    pub(crate) fn serve_inline(
        &self,
        name: &str,
        id: u64,
        mailbox: mpsc::Receiver<Message>,
        handler: Handler,
    ) -> tokio::task::JoinHandle<()> {
        self.install_inline(name, id, mailbox, handler, true)
    }

    /// [`serve_inline`](Self::serve_inline); `split`: the handler takes
    /// GenServer requests split from the received text.
    pub(crate) fn install_inline(
        &self,
        name: &str,
        id: u64,
        mailbox: mpsc::Receiver<Message>,
        handler: Handler,
        split: bool,
    ) -> tokio::task::JoinHandle<()> {
        let core = InlineCore::new(name, handler);
        let (tx, queue) = mpsc::channel(self.inner.opts.mailbox);
        let target = Target::Inline(Arc::new(InlineTarget {
            tx,
            core: core.clone(),
            split,
        }));
        // Replaced only if still this server's: the mailbox's sender goes,
        // so the mailbox ends once delivered messages are in.
        self.inner.targets_mut().replace(name, id, target);
        tokio::spawn(inline::drain(core, mailbox, queue))
    }

    /// Removes a local server name.
    pub fn unregister(&self, name: &str) {
        self.inner.targets_mut().unregister(name);
    }

    /// Removes registration `id` of `name`, if it is still the current one.
    pub(crate) fn unregister_id(&self, name: &str, id: u64) {
        self.inner.targets_mut().unregister_id(name, id);
    }

    /// Whether a server of that name is registered here.
    pub fn is_registered(&self, name: &str) -> bool {
        self.inner.targets().is_registered(name)
    }
}
