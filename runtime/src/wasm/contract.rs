//! Checks, before anything runs, that a component implements the stage world of a supported
//! `sluice:pipeline` version, and says precisely what is missing or wrong when it does not.
//!
//! wasmtime's own linking errors are correct but name internal indices; this check reads the
//! component's declared type and reports in the guest author's terms (the export or import by its
//! WIT name). The exact function signatures are then checked by the generated bindings, whose
//! error we pass on with the export named.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// The `sluice:pipeline` versions this host implements, newest first.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0"];

/// The interfaces a guest may import from the `sluice:pipeline` package.
const HOST_INTERFACES: &[&str] = &["log", "state", "signal", "inference", "clock", "types"];

/// The export every stage guest must provide, and its functions with their parameter names.
const STAGE_FUNCS: &[(&str, &[&str])] = &[("init", &["config"]), ("process", &["batch"])];

/// The world name reported for an accepted component.
pub fn world() -> String {
    format!("sluice:pipeline/stage-guest@{}", SUPPORTED_VERSIONS[0])
}

fn stage_export(version: &str) -> String {
    format!("sluice:pipeline/stage@{version}")
}

/// Checks `sluice:pipeline` imports, then exports. Other imports (WASI) are checked by linking.
pub fn check(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        let Some(rest) = name.strip_prefix("sluice:pipeline/") else {
            if name.starts_with("wasi:") {
                // Checked by linking, which names any WASI interface or version we lack.
                continue;
            }
            return Err(format!(
                "it imports `{name}`, which this Sluice does not provide (guests may import sluice:pipeline {} and WASI 0.2)",
                SUPPORTED_VERSIONS.join(", ")
            ));
        };
        let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if !SUPPORTED_VERSIONS.contains(&version) || !HOST_INTERFACES.contains(&interface) {
            return Err(format!(
                "it imports `{name}`, which this Sluice does not provide (it provides {} of sluice:pipeline {})",
                HOST_INTERFACES.join(", "),
                SUPPORTED_VERSIONS.join(", ")
            ));
        }
    }
    let exports: Vec<(String, ComponentItem)> = ty.exports(engine).map(|(n, e)| (n.to_string(), e.ty)).collect();
    let wanted = stage_export(SUPPORTED_VERSIONS[0]);
    let Some((_, item)) = exports.iter().find(|(name, _)| SUPPORTED_VERSIONS.iter().any(|v| *name == stage_export(v)))
    else {
        let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        if let Some(other) = names.iter().find(|n| n.starts_with("sluice:pipeline/stage@")) {
            return Err(format!(
                "it exports `{other}`, but this Sluice supports `{wanted}` (sluice:pipeline {})",
                SUPPORTED_VERSIONS.join(", ")
            ));
        }
        let found = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        return Err(format!("missing export `{wanted}` (the component exports: {found})"));
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(format!("export `{wanted}` must be an interface instance, not a single item"));
    };
    if let Some((func, _)) = STAGE_FUNCS.iter().find(|(func, _)| instance.get_export(engine, func).is_none()) {
        return Err(format!("export `{wanted}` lacks the function `{func}`"));
    }
    for (func, params) in STAGE_FUNCS {
        let Some(export) = instance.get_export(engine, func) else { continue };
        let ComponentItem::ComponentFunc(f) = export.ty else {
            return Err(format!("`{wanted}#{func}` must be a function"));
        };
        let names: Vec<&str> = f.params().map(|(n, _)| n).collect();
        if names != *params {
            return Err(format!(
                "`{wanted}#{func}` has the wrong type: it takes ({}), the contract says ({})",
                names.join(", "),
                params.join(", ")
            ));
        }
    }
    Ok(())
}
