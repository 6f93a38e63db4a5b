//! One module per verb.

pub mod golden;
pub mod input;
pub mod model;
