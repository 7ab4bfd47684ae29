//! The standard guests, built from `guests/` by the build script and embedded in the binary, so
//! the default pipeline needs no files beside it.

/// Names a pipeline can use as `guest:` without a path.
pub const NAMES: &[&str] = &["normalize", "mine", "enrich", "alert"];

static NORMALIZE: &[u8] = include_bytes!(concat!(env!("SLUICE_GUESTS_DIR"), "/normalize.wasm"));
static MINE: &[u8] = include_bytes!(concat!(env!("SLUICE_GUESTS_DIR"), "/mine.wasm"));
static ENRICH: &[u8] = include_bytes!(concat!(env!("SLUICE_GUESTS_DIR"), "/enrich.wasm"));
static ALERT: &[u8] = include_bytes!(concat!(env!("SLUICE_GUESTS_DIR"), "/alert.wasm"));

/// The component bytes of a built-in guest.
pub fn get(name: &str) -> Option<&'static [u8]> {
    match name {
        "normalize" => Some(NORMALIZE),
        "mine" => Some(MINE),
        "enrich" => Some(ENRICH),
        "alert" => Some(ALERT),
        _ => None,
    }
}
