//! [`QjitCodec`]: how qjit's expressions travel in DataFusion's protobuf plans.
//!
//! In: a physical plan with [`QjitExpr`]s, as the scheduler sends a stage to an executor. Out:
//! the same plan on the executor, whose `QjitExpr`s compile there, on first use, with the
//! executor's engine (its engine kind, kernel cache). Machine code and pointers never travel:
//! a `QjitExpr` is encoded as qjit's typed plan, and its DataFusion parts (its inputs, and the
//! expression it replaces, which DataFusion evaluates if the kernel does not compile) as
//! DataFusion's protobuf encodes them.
//!
//! The message of one `QjitExpr` (DataFusion's `PhysicalExtensionExprNode.expr`; its inputs
//! travel beside it, in the node's `inputs`):
//!
//! ```text
//! "QJIT" | wire format (u8) | kind (u8: 1 = expression) | qjit version (u8 length, UTF-8)
//!        | XXH3-64 of the payload (u64, little-endian) | payload
//! payload = postcard(Payload { plan: the typed plan as nodes in post-order,
//!                              original: the replaced expression's PhysicalExprNode })
//! ```
//!
//! A message of another wire format, or whose checksum does not match, is a task error that
//! names both qjit versions; it never reaches the code generator. The plan is rebuilt from
//! its post-order nodes with an explicit stack, so no message, however deep, can exhaust the
//! executor's stack. Everything that is not a qjit expression goes to the codec it wraps
//! (Ballista's, for its shuffle operators).

use std::fmt;
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use datafusion_proto::protobuf::PhysicalExprNode;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::datafusion::QjitExpr;
use crate::engine::Engine;
use crate::ir::{BinaryOp, ColumnRef, Expr, Func, Literal, SqlType, UnaryOp};

/// The first bytes of every qjit message.
const MAGIC: &[u8; 4] = b"QJIT";
/// The wire format this qjit writes and reads; raised with every change to the encoded nodes
/// or payload (or to the types they hold: the typed plan's types, Arrow's `DataType`).
pub const WIRE_FORMAT: u8 = 1;
/// The message kind of a [`QjitExpr`].
const KIND_EXPR: u8 = 1;

/// A [`PhysicalExtensionCodec`] for plans with qjit's expressions: it encodes and decodes
/// [`QjitExpr`]s and hands every other extension to the codec it wraps.
#[derive(Debug)]
pub struct QjitCodec {
    engine: Arc<Engine>,
    inner: Arc<dyn PhysicalExtensionCodec>,
}

impl QjitCodec {
    /// A codec whose decoded expressions compile with `engine`'s options, wrapping `inner`
    /// (Ballista's `BallistaPhysicalExtensionCodec` on a cluster).
    pub fn new(engine: Engine, inner: Arc<dyn PhysicalExtensionCodec>) -> QjitCodec {
        QjitCodec {
            engine: Arc::new(engine),
            inner,
        }
    }
}

/// One node of a typed plan, its children before it (post-order); a node with children says
/// how many it takes from those before it.
#[derive(Serialize, Deserialize)]
enum Node {
    Column(ColumnRef),
    Literal(Literal),
    Unary(UnaryOp),
    Binary(BinaryOp, SqlType),
    IsNull {
        negated: bool,
    },
    /// The argument, then `items` list items.
    InList {
        items: u32,
        negated: bool,
    },
    Like {
        pattern: String,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    },
    /// `branches` (condition, value) pairs, then the `ELSE` value if `has_else`.
    Case {
        branches: u32,
        has_else: bool,
        ty: SqlType,
    },
    Cast(SqlType),
    Func {
        func: Func,
        args: u32,
        ty: SqlType,
    },
    /// The value, then the body.
    Let {
        id: u32,
    },
    Var {
        id: u32,
        ty: SqlType,
        nullable: bool,
    },
}

#[derive(Serialize, Deserialize)]
struct Payload {
    plan: Vec<Node>,
    /// The replaced DataFusion expression, a protobuf `PhysicalExprNode`.
    original: Vec<u8>,
}

/// Why a message could not be read; shown as the task's error.
#[derive(Debug)]
struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode a qjit expression: {}", self.0)
    }
}

fn decode_error(reason: impl Into<String>) -> DataFusionError {
    DataFusionError::Execution(DecodeError(reason.into()).to_string())
}

/// `plan`'s nodes in post-order.
fn nodes(plan: &Expr, out: &mut Vec<Node>) {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match plan {
        Expr::Column(c) => out.push(Node::Column(c.clone())),
        Expr::Literal(l) => out.push(Node::Literal(l.clone())),
        Expr::Unary { op, arg } => {
            nodes(arg, out);
            out.push(Node::Unary(*op));
        }
        Expr::Binary {
            op,
            left,
            right,
            ty,
        } => {
            nodes(left, out);
            nodes(right, out);
            out.push(Node::Binary(*op, *ty));
        }
        Expr::IsNull { arg, negated } => {
            nodes(arg, out);
            out.push(Node::IsNull { negated: *negated });
        }
        Expr::InList { arg, list, negated } => {
            nodes(arg, out);
            list.iter().for_each(|e| nodes(e, out));
            out.push(Node::InList {
                items: count(list.len()),
                negated: *negated,
            });
        }
        Expr::Like {
            arg,
            pattern,
            escape,
            case_insensitive,
            negated,
        } => {
            nodes(arg, out);
            out.push(Node::Like {
                pattern: pattern.clone(),
                escape: *escape,
                case_insensitive: *case_insensitive,
                negated: *negated,
            });
        }
        Expr::Case {
            branches,
            else_,
            ty,
        } => {
            for (when, then) in branches {
                nodes(when, out);
                nodes(then, out);
            }
            if let Some(e) = else_ {
                nodes(e, out);
            }
            out.push(Node::Case {
                branches: count(branches.len()),
                has_else: else_.is_some(),
                ty: *ty,
            });
        }
        Expr::Cast { arg, ty } => {
            nodes(arg, out);
            out.push(Node::Cast(*ty));
        }
        Expr::Func { func, args, ty } => {
            args.iter().for_each(|e| nodes(e, out));
            out.push(Node::Func {
                func: *func,
                args: count(args.len()),
                ty: *ty,
            });
        }
        Expr::Let { id, value, body } => {
            nodes(value, out);
            nodes(body, out);
            out.push(Node::Let { id: *id });
        }
        Expr::Var { id, ty, nullable } => out.push(Node::Var {
            id: *id,
            ty: *ty,
            nullable: *nullable,
        }),
    }
}

/// The plan whose post-order nodes are `nodes`, or why they are not one.
fn plan(nodes: Vec<Node>) -> std::result::Result<Expr, String> {
    let mut stack: Vec<Expr> = vec![];
    for node in nodes {
        let e = match node {
            Node::Column(c) => Expr::Column(c),
            Node::Literal(l) => Expr::Literal(l),
            Node::Unary(op) => {
                let [arg] = one_each(take(&mut stack, 1)?)?;
                Expr::Unary {
                    op,
                    arg: Box::new(arg),
                }
            }
            Node::Binary(op, ty) => {
                let [left, right] = one_each(take(&mut stack, 2)?)?;
                Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                    ty,
                }
            }
            Node::IsNull { negated } => {
                let [arg] = one_each(take(&mut stack, 1)?)?;
                Expr::IsNull {
                    arg: Box::new(arg),
                    negated,
                }
            }
            Node::InList { items, negated } => {
                let list = take(&mut stack, items)?;
                let [arg] = one_each(take(&mut stack, 1)?)?;
                Expr::InList {
                    arg: Box::new(arg),
                    list,
                    negated,
                }
            }
            Node::Like {
                pattern,
                escape,
                case_insensitive,
                negated,
            } => {
                let [arg] = one_each(take(&mut stack, 1)?)?;
                Expr::Like {
                    arg: Box::new(arg),
                    pattern,
                    escape,
                    case_insensitive,
                    negated,
                }
            }
            Node::Case {
                branches,
                has_else,
                ty,
            } => {
                let else_ = match has_else {
                    true => {
                        let [e] = one_each(take(&mut stack, 1)?)?;
                        Some(Box::new(e))
                    }
                    false => None,
                };
                let operands = take(&mut stack, branches.saturating_mul(2))?;
                let mut operands = operands.into_iter();
                let mut pairs = vec![];
                while let (Some(when), Some(then)) = (operands.next(), operands.next()) {
                    pairs.push((when, then));
                }
                Expr::Case {
                    branches: pairs,
                    else_,
                    ty,
                }
            }
            Node::Cast(ty) => {
                let [arg] = one_each(take(&mut stack, 1)?)?;
                Expr::Cast {
                    arg: Box::new(arg),
                    ty,
                }
            }
            Node::Func { func, args, ty } => Expr::Func {
                func,
                args: take(&mut stack, args)?,
                ty,
            },
            Node::Let { id } => {
                let [value, body] = one_each(take(&mut stack, 2)?)?;
                Expr::Let {
                    id,
                    value: Box::new(value),
                    body: Box::new(body),
                }
            }
            Node::Var { id, ty, nullable } => Expr::Var { id, ty, nullable },
        };
        stack.push(e);
    }
    match <[Expr; 1]>::try_from(stack) {
        Ok([e]) => Ok(e),
        Err(rest) => Err(format!(
            "the nodes make {} expressions, not one",
            rest.len()
        )),
    }
}

/// The last `n` expressions of `stack`, taken from it.
fn take(stack: &mut Vec<Expr>, n: u32) -> std::result::Result<Vec<Expr>, String> {
    let n = n as usize;
    if n > stack.len() {
        return Err(format!(
            "a node takes {n} operands where {} precede it",
            stack.len()
        ));
    }
    Ok(stack.split_off(stack.len() - n))
}

fn one_each<const N: usize>(v: Vec<Expr>) -> std::result::Result<[Expr; N], String> {
    <[Expr; N]>::try_from(v).map_err(|v| format!("expected {N} operands, found {}", v.len()))
}

/// The message of `expr` (see the module docs), its original encoded with `ctx`.
fn encode(expr: &QjitExpr, ctx: &PhysicalExprEncodeCtx<'_>) -> Result<Vec<u8>> {
    let mut plan = vec![];
    nodes(expr.plan(), &mut plan);
    let original = ctx.encode_child(expr.original())?.encode_to_vec();
    let payload = postcard::to_stdvec(&Payload { plan, original })
        .map_err(|e| DataFusionError::Internal(format!("cannot encode a qjit expression: {e}")))?;
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut out = Vec::with_capacity(payload.len() + version.len() + 16);
    out.extend_from_slice(MAGIC);
    out.push(WIRE_FORMAT);
    out.push(KIND_EXPR);
    out.push(version.len() as u8);
    out.extend_from_slice(version);
    out.extend_from_slice(&twox_hash::XxHash3_64::oneshot(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// The typed plan and the original's protobuf node of a message.
fn decode(buf: &[u8]) -> Result<(Expr, PhysicalExprNode)> {
    let rest = buf
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| decode_error("it does not start with \"QJIT\""))?;
    let [format, kind, length, rest @ ..] = rest else {
        return Err(decode_error("the message ends in its header"));
    };
    let (version, rest) = rest
        .split_at_checked(*length as usize)
        .ok_or_else(|| decode_error("the message ends in its header"))?;
    let version = String::from_utf8_lossy(version);
    if *format != WIRE_FORMAT {
        return Err(decode_error(format!(
            "it was encoded by qjit {version} in wire format {format}, and this qjit ({}) reads \
             format {WIRE_FORMAT}; run the same qjit version on the scheduler and every executor",
            env!("CARGO_PKG_VERSION")
        )));
    }
    if *kind != KIND_EXPR {
        return Err(decode_error(format!("unknown message kind {kind}")));
    }
    let (sum, payload) = rest
        .split_first_chunk::<8>()
        .ok_or_else(|| decode_error("the message ends in its header"))?;
    if u64::from_le_bytes(*sum) != twox_hash::XxHash3_64::oneshot(payload) {
        return Err(decode_error(format!(
            "its checksum does not match (a corrupt message, {} bytes, from qjit {version})",
            buf.len()
        )));
    }
    let payload: Payload =
        postcard::from_bytes(payload).map_err(|e| decode_error(format!("bad payload: {e}")))?;
    let expr = plan(payload.plan).map_err(decode_error)?;
    let original = PhysicalExprNode::decode(payload.original.as_slice())
        .map_err(|e| decode_error(format!("bad DataFusion expression: {e}")))?;
    Ok((expr, original))
}

impl PhysicalExtensionCodec for QjitCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if !buf.starts_with(MAGIC) {
            return self.inner.try_decode_expr(buf, inputs, ctx);
        }
        let (expr, original) = decode(buf)?;
        let original = ctx.decode(&original)?;
        Ok(Arc::new(QjitExpr::from_parts(
            original,
            expr,
            inputs.to_vec(),
            self.engine.clone(),
        )?))
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        match node.downcast_ref::<QjitExpr>() {
            Some(q) => {
                buf.extend_from_slice(&encode(q, ctx)?);
                Ok(())
            }
            None => self.inner.try_encode_expr(node, buf, ctx),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}
