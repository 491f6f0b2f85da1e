//! PromQL evaluation (on the `promql-parser` crate's AST) over any storage implementing [`Storage`].

pub mod engine;
pub mod functions;
pub mod series_notation;
pub mod storage;
pub mod value;

pub use engine::{check_query, parse_expr, Engine, EngineOptions, QueryError, QueryOptions, QueryResult};
pub use storage::{Aggregate, MemStorage, SeriesSet, Storage, StorageError, StoredSeries};
pub use value::{Sample, Series, Value};
