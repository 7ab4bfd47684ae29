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

/// The `sluice:pipeline` versions this host implements, newest first. 0.1.1 only adds the batch
/// world, so a 0.1.0 guest's imports and export resolve to this host's 0.1.1 definitions.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.1", "0.1.0"];

/// The interfaces a guest may import from the `sluice:pipeline` package.
const HOST_INTERFACES: &[&str] = &["log", "state", "signal", "inference", "clock", "types", "batch-types"];

/// The functions every stage export must provide, with their parameter names (both worlds).
const STAGE_FUNCS: &[(&str, &[&str])] = &[("init", &["config"]), ("process", &["batch"])];

/// Which of the two stage worlds a component implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `stage-guest`: batches of typed records.
    Typed,
    /// `batch-guest`: batches in the `batch-types` layout.
    Batch,
}

impl World {
    /// The interface the world exports, and the supported contract versions that have it.
    fn export(self) -> (&'static str, &'static [&'static str]) {
        match self {
            World::Typed => ("stage", SUPPORTED_VERSIONS),
            // Added in 0.1.1.
            World::Batch => ("batch-stage", &["0.1.1"]),
        }
    }

    /// The world's full name, as this host implements it.
    pub fn name(self) -> String {
        let world = match self {
            World::Typed => "stage-guest",
            World::Batch => "batch-guest",
        };
        format!("sluice:pipeline/{world}@{}", SUPPORTED_VERSIONS[0])
    }
}

/// The versions of `sluice:pipeline` that have `world`'s export.
fn versions(world: World) -> impl Iterator<Item = &'static str> {
    world.export().1.iter().copied()
}

fn export_name(world: World, version: &str) -> String {
    format!("sluice:pipeline/{}@{version}", world.export().0)
}

/// Checks `sluice:pipeline` imports, then exports, and says which world the component implements.
/// Other imports (WASI) are checked by linking.
pub fn check(engine: &Engine, component: &Component) -> Result<World, String> {
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
    let wanted = format!(
        "{}` or `{}",
        export_name(World::Batch, SUPPORTED_VERSIONS[0]),
        export_name(World::Typed, SUPPORTED_VERSIONS[0])
    );
    let found = [World::Batch, World::Typed].into_iter().find_map(|world| {
        let names: Vec<String> = versions(world).map(|v| export_name(world, v)).collect();
        exports.iter().find(|(name, _)| names.contains(name)).map(|(name, item)| (world, name, item))
    });
    let Some((world, name, item)) = found else {
        let names: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
        let stage =
            |n: &&&str| n.starts_with("sluice:pipeline/stage@") || n.starts_with("sluice:pipeline/batch-stage@");
        if let Some(other) = names.iter().find(stage) {
            return Err(format!(
                "it exports `{other}`, but this Sluice supports `{wanted}` (sluice:pipeline {})",
                SUPPORTED_VERSIONS.join(", ")
            ));
        }
        let found = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        return Err(format!("missing export `{wanted}` (the component exports: {found})"));
    };
    let ComponentItem::ComponentInstance(instance) = item else {
        return Err(format!("export `{name}` must be an interface instance, not a single item"));
    };
    if let Some((func, _)) = STAGE_FUNCS.iter().find(|(func, _)| instance.get_export(engine, func).is_none()) {
        return Err(format!("export `{name}` lacks the function `{func}`"));
    }
    for (func, params) in STAGE_FUNCS {
        let Some(export) = instance.get_export(engine, func) else { continue };
        let ComponentItem::ComponentFunc(f) = export.ty else {
            return Err(format!("`{name}#{func}` must be a function"));
        };
        let names: Vec<&str> = f.params().map(|(n, _)| n).collect();
        if names != *params {
            return Err(format!(
                "`{name}#{func}` has the wrong type: it takes ({}), the contract says ({})",
                names.join(", "),
                params.join(", ")
            ));
        }
    }
    Ok(world)
}

#[cfg(test)]
mod tests {
    use super::{World, export_name, versions};

    #[test]
    fn each_world_is_looked_for_at_the_versions_that_have_it() {
        let names = |world| versions(world).map(|v| export_name(world, v)).collect::<Vec<_>>();
        assert_eq!(names(World::Typed), ["sluice:pipeline/stage@0.1.1", "sluice:pipeline/stage@0.1.0"]);
        assert_eq!(names(World::Batch), ["sluice:pipeline/batch-stage@0.1.1"]);
        assert_eq!(World::Batch.name(), "sluice:pipeline/batch-guest@0.1.1");
    }
}
