use std::time::Duration;

use serde_json::json;

use super::client::{lock_attempt, post_granted, retries_exhausted, retry_wait, Attempt};
use super::*;
use crate::table::{MTable, Op};

const T0: u64 = 1_800_000_000_000;

fn apply(table: &mut MTable, fx: &Effects) {
    for op in &fx.table {
        table.apply(op.clone()).unwrap();
    }
}

fn started(fx: &Effects) -> TimerId {
    fx.timers
        .iter()
        .find_map(|t| match t {
            Timer::Start { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap()
}

#[test]
fn fencing_tokens_grow_across_grants_and_restarts() {
    let opts = DlmOptions {
        fencing: true,
        ..DlmOptions::default()
    };
    let mut s = DlmServer::new(opts.clone());
    let mut table = MTable::new();
    let job = |id: &str, holder: &str| json!({"id": id, "holder": holder, "timeout": 60000});
    let a = s.handle("wlock", &job("a", "h"), T0);
    apply(&mut table, &a);
    let Some(Reply::Ok {
        ok: true,
        token: Some(t1),
        ..
    }) = a.reply
    else {
        panic!("{a:?}")
    };
    assert!(t1 >= T0 * 1024);
    assert_eq!(
        a.reply.as_ref().unwrap().to_json(),
        json!({"ok": true, "token": t1})
    );
    // Same millisecond: still above.
    let b = s.handle("rlock", &job("b", "h"), T0);
    apply(&mut table, &b);
    let Some(Reply::Ok {
        token: Some(t2), ..
    }) = b.reply
    else {
        panic!()
    };
    assert!(t2 > t1);
    // A repeated rlock answers the grant's own token; a refusal none.
    assert_eq!(
        s.handle("rlock", &job("b", "h"), T0 + 1)
            .reply
            .unwrap()
            .to_json(),
        json!({"ok": true, "token": t2})
    );
    assert_eq!(
        s.handle("wlock", &job("a", "x"), T0 + 1)
            .reply
            .unwrap()
            .to_json(),
        json!({"ok": false})
    );
    // The token is in the table, so a restarted server (same clock) goes on
    // above it.
    let entry = table.get(&"a".into()).unwrap().as_json().unwrap().clone();
    assert_eq!(entry["token"], json!(t1));
    let mut restarted = DlmServer::new(opts.clone());
    restarted.load(&table, T0);
    let c = restarted.handle("wlock", &job("c", "h"), T0);
    let Some(Reply::Ok {
        token: Some(t3), ..
    }) = c.reply
    else {
        panic!()
    };
    assert!(t3 > t2);
    // Without fencing, the original's replies and entries.
    let mut plain = DlmServer::default();
    let fx = plain.handle("wlock", &job("a", "h"), T0);
    assert_eq!(fx.reply.unwrap().to_json(), json!({"ok": true}));
    assert_eq!(
        fx.table,
        vec![Op::Set(
            "a".into(),
            json!({"holder": "h", "start": T0, "timeout": 60000}).into()
        )]
    );
}

#[test]
fn leases_end_and_stale_timers_do_nothing() {
    let mut s = DlmServer::default();
    let fx = s.handle(
        "wlock",
        &json!({"id": "l", "holder": "h", "timeout": 5}),
        T0,
    );
    assert_eq!(
        fx.timers,
        vec![Timer::Start {
            id: started(&fx),
            after: Duration::from_millis(5)
        }]
    );
    let first = started(&fx);
    assert_eq!(
        s.handle("wunlock", &json!({"id": "l", "holder": "h"}), T0)
            .reply,
        Some(Reply::Ok {
            ok: true,
            token: None,
            data: None
        })
    );
    let again = s.handle(
        "wlock",
        &json!({"id": "l", "holder": "h", "timeout": 5}),
        T0 + 1,
    );
    // The first lease's timer fires late: the new grant stays.
    assert_eq!(s.on_timer(first), Effects::default());
    assert_eq!(s.locks().len(), 1);
    assert_eq!(s.on_timer(started(&again)).table, vec![Op::Del("l".into())]);
    assert!(s.locks().is_empty());
    // Read leases end one holder at a time.
    let r1 = s.handle(
        "rlock",
        &json!({"id": "r", "holder": "a", "timeout": 1}),
        T0,
    );
    s.handle(
        "rlock",
        &json!({"id": "r", "holder": "b", "timeout": 1}),
        T0,
    );
    assert_eq!(
        s.on_timer(started(&r1)).table,
        vec![Op::Hdel("r".into(), "a".into())]
    );
    assert_eq!(
        s.locks(),
        vec![LockView::Read {
            id: "r".into(),
            holders: vec!["b".into()]
        }]
    );
}

#[test]
fn malformed_jobs_get_the_originals_error_texts() {
    let mut s = DlmServer::default();
    let err = |fx: Effects| match fx.reply {
        Some(Reply::Error(e)) => e.to_json(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(s.handle("rlock", &json!([1]), T0)),
        json!({"message": "Malformed job for command 'rlock'.", "_error": true, "fails": {"id": "Must be a JSON string.", "holder": "Must be a JSON string.", "timeout": "Must be a positive JSON number."}})
    );
    assert_eq!(
        err(s.handle("rlock", &json!("x"), T0)),
        json!({"message": "Malformed job; must be an object.", "_error": true})
    );
    assert_eq!(
        err(s.handle(
            "wlock",
            &json!({"id": "a", "holder": "h", "timeout": 0}),
            T0
        ))["fails"],
        json!({"timeout": "Must be a positive JSON number."})
    );
    assert_eq!(
        err(s.handle("wlock", &json!({"id": 1, "holder": "h", "timeout": 1}), T0))["fails"],
        json!({"id": "Must be a JSON string."})
    );
    let mut d = DsmServer::default();
    assert_eq!(
        err(d.handle("post", &json!({"id": "a", "holder": "h"}), T0))["fails"],
        json!({"timeout": "Must be a JSON number."})
    );
    assert_eq!(
        err(d.handle("lock", &json!({}), T0))["message"],
        json!("Malformed job; unrecognized command 'lock'")
    );
    assert!(s.locks().is_empty());
}

#[test]
fn counts_are_bounded() {
    let mut s = DlmServer::new(DlmOptions {
        max_locks: 2,
        ..DlmOptions::default()
    });
    for id in ["a", "b"] {
        assert_eq!(
            s.handle(
                "rlock",
                &json!({"id": id, "holder": "h", "timeout": 10}),
                T0
            )
            .reply
            .unwrap()
            .to_json(),
            json!({"ok": true})
        );
    }
    let fx = s.handle(
        "wlock",
        &json!({"id": "c", "holder": "h", "timeout": 10}),
        T0,
    );
    assert!(matches!(fx.reply, Some(Reply::Error(_))));
    assert!(fx.table.is_empty());
    // More holders on an existing lock are fine.
    assert_eq!(
        s.handle(
            "rlock",
            &json!({"id": "a", "holder": "h2", "timeout": 10}),
            T0
        )
        .reply
        .unwrap()
        .to_json(),
        json!({"ok": true})
    );
    let mut d = DsmServer::new(DsmOptions { max_semaphores: 1 });
    d.handle("create", &json!({"id": "a", "n": 1}), T0);
    assert!(matches!(
        d.handle("create", &json!({"id": "b", "n": 1}), T0).reply,
        Some(Reply::Error(_))
    ));
}

#[test]
fn a_semaphore_never_takes_more_holders_than_slots() {
    // A destroyed semaphore whose holders survived comes back with n = 0
    // (the original's files); the original then takes any post.
    let mut table = MTable::new();
    table
        .hset(
            "SEMAPHORE_HOLDERS::s".into(),
            "p".into(),
            json!({"start": T0, "timeout": 60000}).into(),
        )
        .unwrap();
    let mut d = DsmServer::default();
    d.load(&table, T0);
    assert_eq!(d.semaphores()[0].n, 0.0);
    assert_eq!(
        d.handle(
            "post",
            &json!({"id": "s", "holder": "q", "timeout": 10}),
            T0
        )
        .reply
        .unwrap()
        .to_json(),
        json!({"ok": false})
    );
    assert_eq!(
        d.handle(
            "post",
            &json!({"id": "s", "holder": "p", "timeout": 10}),
            T0
        )
        .reply
        .unwrap()
        .to_json(),
        json!({"ok": true})
    );
    // A fractional n: 1.5 slots hold 1 holder... and a second is refused
    // only once there are two (holders >= n).
    d.handle("create", &json!({"id": "f", "n": 1.5}), T0);
    assert_eq!(
        d.handle(
            "post",
            &json!({"id": "f", "holder": "a", "timeout": 10}),
            T0
        )
        .reply
        .unwrap()
        .to_json(),
        json!({"ok": true})
    );
    assert_eq!(
        d.handle(
            "post",
            &json!({"id": "f", "holder": "b", "timeout": 10}),
            T0
        )
        .reply
        .unwrap()
        .to_json(),
        json!({"ok": true})
    );
    assert_eq!(
        d.handle(
            "post",
            &json!({"id": "f", "holder": "c", "timeout": 10}),
            T0
        )
        .reply
        .unwrap()
        .to_json(),
        json!({"ok": false})
    );
    let e = d.handle("create", &json!({"id": "f", "n": 3}), T0);
    assert_eq!(
        e.reply.unwrap().to_json()["message"],
        json!("Semaphore 'f' already exist with n equal to 1.")
    );
}

#[test]
fn the_quorum_rule() {
    let yes = json!({"ok": true});
    let no = json!({"ok": false});
    // Two nodes, 0.51: both must grant (dlm_partial_grant_below_quorum).
    assert_eq!(
        lock_attempt(&[yes.clone(), no.clone()], 0.51, 1.0, 10000.0),
        Attempt::Refused
    );
    assert_eq!(
        lock_attempt(&[yes.clone(), yes.clone()], 0.51, 1.0, 10000.0),
        Attempt::Granted {
            nodes: vec![0, 1],
            token: None
        }
    );
    assert_eq!(
        lock_attempt(&[no.clone(), yes.clone(), yes.clone()], 0.51, 1.0, 10000.0),
        Attempt::Granted {
            nodes: vec![1, 2],
            token: None
        }
    );
    // Granted, but the lease ran out on the way (timeout 0.01 ms).
    assert_eq!(
        lock_attempt(&[yes.clone(), yes.clone()], 0.51, 1.0, 0.01),
        Attempt::Refused
    );
    assert_eq!(lock_attempt(&[], 0.51, 0.0, 10.0), Attempt::Refused);
    // Only ok:true counts; the token is the highest among the grants.
    let t = |n: u64| json!({"ok": true, "token": n});
    assert_eq!(
        lock_attempt(
            &[
                t(5),
                json!({"ok": "true"}),
                t(9),
                json!({"ok": false, "token": 99})
            ],
            0.5,
            1.0,
            10.0
        ),
        Attempt::Granted {
            nodes: vec![0, 2],
            token: Some(9)
        }
    );
    assert!(post_granted(&yes, 1.0, 10.0));
    assert!(!post_granted(&yes, 1.0, 0.01));
    assert!(!post_granted(&no, 1.0, 10.0));
    assert_eq!(retry_wait(0.0, 10, 100), Duration::from_millis(10));
    assert_eq!(retry_wait(0.5, 10, 100), Duration::from_millis(55));
    assert!(retry_wait(0.999, 10, 100) < Duration::from_millis(100));
    assert_eq!(
        retries_exhausted("wlock"),
        "Failed to acquire wlock, retry count exhausted."
    );
}
