//! One module per subcommand.

pub mod convert;
pub mod normalize;
pub mod validate_order;
