//! Values crossing the boundary: JavaScript numbers as engine integers and
//! engine refusals as JavaScript errors.
//!
//! Shared by every door of the addon so that an argument of the wrong kind
//! is reported the same way everywhere (an `Error` whose message names the
//! argument), and so that no door module has to reach into the crate root
//! for them.

use napi::{Error, Status};

/// Largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// An engine refusal as a JavaScript `Error` whose message names the problem.
pub(crate) fn engine_error(e: notp::Error) -> Error {
    Error::new(Status::GenericFailure, e.to_string())
}

/// An argument the JavaScript layer should have rejected already.
pub(crate) fn invalid_arg(name: &str, reason: &str) -> Error {
    Error::new(Status::InvalidArg, format!("`{name}` {reason}"))
}

/// A JavaScript number that must be a non-negative safe integer.
pub(crate) fn to_u64(name: &str, v: f64) -> napi::Result<u64> {
    if (0.0..=MAX_SAFE_INTEGER).contains(&v) && v.fract() == 0.0 {
        Ok(v as u64)
    } else {
        Err(invalid_arg(
            name,
            "must be a non-negative integer below 2^53",
        ))
    }
}

/// A JavaScript number used as a bound or limit: NaN and negatives are
/// rejected, fractions round down and values past the type's range
/// (including `Infinity`) saturate.
pub(crate) fn to_bound(name: &str, v: f64) -> napi::Result<u64> {
    if v >= 0.0 {
        Ok(v as u64)
    } else {
        Err(invalid_arg(name, "must be a non-negative number"))
    }
}

/// An unsigned engine number as a JavaScript number.
pub(crate) fn to_js(v: u64) -> f64 {
    v as f64
}
