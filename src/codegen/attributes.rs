//! The attributes every function of a kernel module carries: the host CPU and its features,
//! `nounwind`, and [`NO_LIBRARY_CALLS`]. A function inlines only into one with the same
//! target attributes, so the row functions, the entry and every helper of `lower` carry them.

use inkwell::attributes::Attribute;
use inkwell::context::Context;

/// The enum attribute `name` (`alwaysinline`, `noalias`, …).
pub(crate) fn enum_attr(ctx: &Context, name: &str) -> Attribute {
    ctx.create_enum_attribute(Attribute::get_named_enum_kind_id(name), 0)
}

/// The string attributes that keep the optimizer from turning byte loops into calls of the C
/// library (`memcpy`, `memmove`, `memset`): a kernel calls nothing but the runtime functions of
/// the float casts (`super::runtime`). Every function of a kernel module carries them
/// (functions inline only into functions with the same ones).
pub(crate) const NO_LIBRARY_CALLS: [&str; 3] = [
    "no-builtin-memcpy",
    "no-builtin-memmove",
    "no-builtin-memset",
];

/// The attributes every kernel function carries: the host CPU and its features, `nounwind`,
/// [`NO_LIBRARY_CALLS`].
pub(crate) fn target_attributes(ctx: &Context, cpu: &str, features: &str) -> Vec<Attribute> {
    let mut attrs = vec![
        ctx.create_string_attribute("target-cpu", cpu),
        ctx.create_string_attribute("target-features", features),
        enum_attr(ctx, "nounwind"),
    ];
    attrs.extend(
        NO_LIBRARY_CALLS
            .iter()
            .map(|key| ctx.create_string_attribute(key, "")),
    );
    attrs
}
