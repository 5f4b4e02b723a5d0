//! One module per subcommand.

pub mod convert;
pub mod convert_many;
pub mod load;
pub mod normalize;
pub mod redrive;
pub mod replay;
pub mod schema;
pub mod validate_order;
