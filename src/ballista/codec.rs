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
//! A partial aggregation fused into a [`QjitAggregateExec`](crate::datafusion::QjitAggregateExec)
//! (DataFusion's `PhysicalExtensionNode.node`; its base travels beside it, in the node's
//! `inputs`) is a message of kind 2 in the same frame:
//!
//! ```text
//! payload = postcard(AggregatePayload { filter, keys, calls (function, argument), state,
//!                                       layers: how many operators it replaces,
//!                                       template: those operators as a PhysicalPlanNode,
//!                                                 over an EmptyExec of the base's schema })
//! ```
//!
//! The executor rebuilds the replaced operators over the decoded base (they give the fused
//! operator its properties and run where its kernel does not compile) and compiles the kernel
//! from the typed plans on first use; it does not decide again whether to fuse. Every column a
//! plan reads is checked against the base's schema, and every state field against the calls.
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
#[cfg(feature = "jit")]
use datafusion_proto::physical_plan::PhysicalPlanDecodeContext;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use datafusion_proto::protobuf::PhysicalExprNode;
#[cfg(feature = "jit")]
use datafusion_proto::protobuf::PhysicalPlanNode;
use prost::Message;
use serde::{Deserialize, Serialize};

#[cfg(feature = "jit")]
use crate::datafusion::QjitAggregateExec;
use crate::datafusion::QjitExpr;
use crate::engine::Engine;
#[cfg(feature = "jit")]
use crate::ir::{AggFunc, AggregateCall};
use crate::ir::{BinaryOp, ColumnRef, Expr, Func, Literal, SqlType, UnaryOp};

/// The first bytes of every qjit message.
const MAGIC: &[u8; 4] = b"QJIT";
/// The wire format this qjit writes and reads; raised with every change to the encoded nodes
/// or payloads (or to the types they hold: the typed plan's types, Arrow's `DataType`), and
/// with every new kind of message.
pub const WIRE_FORMAT: u8 = 2;
/// The message kind of a [`QjitExpr`].
const KIND_EXPR: u8 = 1;
/// The message kind of a fused aggregation.
#[cfg(feature = "jit")]
const KIND_AGGREGATE: u8 = 2;

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

/// One aggregate call of a fused aggregation: its function and its argument's plan.
#[cfg(feature = "jit")]
#[derive(Serialize, Deserialize)]
struct CallPayload {
    func: AggFunc,
    arg: Option<Vec<Node>>,
}

/// A fused aggregation (see the module docs).
#[cfg(feature = "jit")]
#[derive(Serialize, Deserialize)]
struct AggregatePayload {
    filter: Option<Vec<Node>>,
    keys: Vec<Vec<Node>>,
    calls: Vec<CallPayload>,
    /// Per state field after the keys: its call, and whether it is an `avg`'s count.
    state: Vec<(u32, bool)>,
    /// How many operators the fused one replaces.
    layers: u32,
    /// Those operators over a placeholder, a protobuf `PhysicalPlanNode`.
    template: Vec<u8>,
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

fn encode_error(e: impl fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("cannot encode a qjit expression: {e}"))
}

/// `plan`'s nodes in post-order, as a list.
fn node_list(plan: &Expr) -> Vec<Node> {
    let mut out = vec![];
    nodes(plan, &mut out);
    out
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

/// The message of kind `kind` with `payload`: the frame of the module docs.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let mut out = Vec::with_capacity(payload.len() + version.len() + 16);
    out.extend_from_slice(MAGIC);
    out.push(WIRE_FORMAT);
    out.push(kind);
    out.push(version.len() as u8);
    out.extend_from_slice(version);
    out.extend_from_slice(&twox_hash::XxHash3_64::oneshot(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a message of kind `expected`, its frame checked.
fn unframe(buf: &[u8], expected: u8) -> Result<&[u8]> {
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
    if *kind != expected {
        return Err(decode_error(format!(
            "a message of kind {kind} where one of kind {expected} belongs"
        )));
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
    Ok(payload)
}

/// The message of `expr` (see the module docs), its original encoded with `ctx`.
fn encode(expr: &QjitExpr, ctx: &PhysicalExprEncodeCtx<'_>) -> Result<Vec<u8>> {
    let plan = node_list(expr.plan());
    let original = ctx.encode_child(expr.original())?.encode_to_vec();
    let payload = postcard::to_stdvec(&Payload { plan, original }).map_err(encode_error)?;
    Ok(frame(KIND_EXPR, &payload))
}

/// The typed plan and the original's protobuf node of a message.
fn decode(buf: &[u8]) -> Result<(Expr, PhysicalExprNode)> {
    let payload = unframe(buf, KIND_EXPR)?;
    let payload: Payload =
        postcard::from_bytes(payload).map_err(|e| decode_error(format!("bad payload: {e}")))?;
    let expr = plan(payload.plan).map_err(decode_error)?;
    let original = PhysicalExprNode::decode(payload.original.as_slice())
        .map_err(|e| decode_error(format!("bad DataFusion expression: {e}")))?;
    Ok((expr, original))
}

/// The message of a fused aggregation (see the module docs), its operators encoded with
/// `converter` and `codec`.
#[cfg(feature = "jit")]
fn encode_aggregate(
    agg: &QjitAggregateExec,
    converter: &dyn PhysicalProtoConverterExtension,
    codec: &dyn PhysicalExtensionCodec,
) -> Result<Vec<u8>> {
    let spec = agg.spec();
    let (template, layers) = agg.template()?;
    let count = |n: usize| u32::try_from(n).map_err(encode_error);
    let payload = AggregatePayload {
        filter: spec.filter.as_ref().map(node_list),
        keys: spec.keys.iter().map(node_list).collect(),
        calls: spec
            .calls
            .iter()
            .map(|c| CallPayload {
                func: c.func,
                arg: c.arg.as_ref().map(node_list),
            })
            .collect(),
        state: spec
            .state
            .iter()
            .map(|&(call, avg)| Ok((count(call)?, avg)))
            .collect::<Result<_>>()?,
        layers: count(layers)?,
        template: converter
            .execution_plan_to_proto(&template, codec)?
            .encode_to_vec(),
    };
    let payload = postcard::to_stdvec(&payload).map_err(encode_error)?;
    Ok(frame(KIND_AGGREGATE, &payload))
}

/// The fused aggregation of a message over `input`, compiling with `engine`.
#[cfg(feature = "jit")]
fn decode_aggregate(
    buf: &[u8],
    input: Arc<dyn ExecutionPlan>,
    ctx: &PhysicalPlanDecodeContext<'_>,
    converter: &dyn PhysicalProtoConverterExtension,
    engine: Arc<Engine>,
) -> Result<QjitAggregateExec> {
    let payload = unframe(buf, KIND_AGGREGATE)?;
    let p: AggregatePayload =
        postcard::from_bytes(payload).map_err(|e| decode_error(format!("bad payload: {e}")))?;
    let plan_of = |nodes: Vec<Node>| plan(nodes).map_err(decode_error);
    let filter = p.filter.map(plan_of).transpose()?;
    let keys = p
        .keys
        .into_iter()
        .map(plan_of)
        .collect::<Result<Vec<_>>>()?;
    let calls = p
        .calls
        .into_iter()
        .map(|c| {
            let arg = c.arg.map(plan_of).transpose()?;
            AggregateCall::new(c.func, arg)
                .map_err(|e| decode_error(format!("bad aggregate call: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let state = p
        .state
        .into_iter()
        .map(|(call, avg)| (call as usize, avg))
        .collect();
    let template = PhysicalPlanNode::decode(p.template.as_slice())
        .map_err(|e| decode_error(format!("bad DataFusion plan: {e}")))?;
    let template = converter.proto_to_execution_plan(&template, ctx)?;
    QjitAggregateExec::from_parts(
        template,
        p.layers as usize,
        input,
        filter,
        keys,
        calls,
        state,
        engine,
    )
    .map_err(|why| decode_error(format!("a fused aggregation: {why}")))
}

impl PhysicalExtensionCodec for QjitCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        #[cfg(feature = "jit")]
        if buf.starts_with(MAGIC) {
            let [input] = inputs else {
                return Err(decode_error(format!(
                    "a fused aggregation with {} inputs",
                    inputs.len()
                )));
            };
            let decode = PhysicalPlanDecodeContext::new(ctx, self);
            let engine = self.engine.clone();
            let agg = decode_aggregate(buf, input.clone(), &decode, proto_converter, engine)?;
            return Ok(Arc::new(agg));
        }
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        #[cfg(feature = "jit")]
        if let Some(agg) = node.downcast_ref::<QjitAggregateExec>() {
            buf.extend_from_slice(&encode_aggregate(agg, proto_converter, self)?);
            return Ok(());
        }
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
