//! The D-Bus wire format: signatures parsed into [`Type`] trees, [`Value`]s, and their marshalling with the
//! specification's alignment rules. Vigil writes little-endian and reads both byte orders.

use super::{
    Error, MAX_ARRAY_BYTES, MAX_ARRAY_DEPTH, MAX_SIGNATURE_LEN, MAX_STRUCT_DEPTH, MAX_TOTAL_DEPTH, MAX_VALUES,
};

/// A complete D-Bus type. Unix file descriptors (`h`) are not supported: vigil never negotiates fd passing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Byte,
    Bool,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Double,
    Str,
    ObjectPath,
    Signature,
    Variant,
    Array(Box<Type>),
    Struct(Vec<Type>),
    DictEntry(Box<Type>, Box<Type>),
}

impl Type {
    /// Parses a signature made of any number of complete types, as in a message's body signature.
    pub fn parse_signature(sig: &str) -> Result<Vec<Type>, Error> {
        if sig.len() > MAX_SIGNATURE_LEN {
            return Err(Error::Signature { sig: truncate(sig), reason: "longer than 255 bytes" });
        }
        let mut p = SigParser { sig: sig.as_bytes(), pos: 0, arrays: 0, structs: 0 };
        let mut types = Vec::new();
        while p.pos < p.sig.len() {
            types.push(p.complete().map_err(|reason| Error::Signature { sig: sig.to_owned(), reason })?);
        }
        Ok(types)
    }

    /// Parses a signature that must hold exactly one complete type, as in a variant.
    pub fn parse_single(sig: &str) -> Result<Type, Error> {
        let mut types = Type::parse_signature(sig)?;
        if types.len() != 1 {
            return Err(Error::Signature { sig: sig.to_owned(), reason: "expected exactly one complete type" });
        }
        Ok(types.remove(0))
    }

    /// Appends this type's signature to `out`.
    pub fn write_signature(&self, out: &mut String) {
        let code = match self {
            Type::Byte => 'y',
            Type::Bool => 'b',
            Type::I16 => 'n',
            Type::U16 => 'q',
            Type::I32 => 'i',
            Type::U32 => 'u',
            Type::I64 => 'x',
            Type::U64 => 't',
            Type::Double => 'd',
            Type::Str => 's',
            Type::ObjectPath => 'o',
            Type::Signature => 'g',
            Type::Variant => 'v',
            Type::Array(elem) => {
                out.push('a');
                elem.write_signature(out);
                return;
            }
            Type::Struct(fields) => {
                out.push('(');
                for f in fields {
                    f.write_signature(out);
                }
                out.push(')');
                return;
            }
            Type::DictEntry(k, v) => {
                out.push('{');
                k.write_signature(out);
                v.write_signature(out);
                out.push('}');
                return;
            }
        };
        out.push(code);
    }

    /// This type's signature as a new string.
    pub fn signature(&self) -> String {
        let mut s = String::new();
        self.write_signature(&mut s);
        s
    }

    /// The boundary a value of this type starts on.
    pub fn alignment(&self) -> usize {
        match self {
            Type::Byte | Type::Signature | Type::Variant => 1,
            Type::I16 | Type::U16 => 2,
            Type::Bool | Type::I32 | Type::U32 | Type::Str | Type::ObjectPath | Type::Array(_) => 4,
            Type::I64 | Type::U64 | Type::Double | Type::Struct(_) | Type::DictEntry(..) => 8,
        }
    }

    /// How many type codes this type is made of; decoding charges it against the value budget whenever an
    /// array value keeps a copy of its element type.
    fn nodes(&self) -> usize {
        match self {
            Type::Array(elem) => 1 + elem.nodes(),
            Type::Struct(fields) => 1 + fields.iter().map(Type::nodes).sum::<usize>(),
            Type::DictEntry(k, v) => 1 + k.nodes() + v.nodes(),
            _ => 1,
        }
    }

    fn is_basic(&self) -> bool {
        !matches!(self, Type::Variant | Type::Array(_) | Type::Struct(_) | Type::DictEntry(..))
    }
}

/// A signature that may be hostile, shortened for an error message.
fn truncate(sig: &str) -> String {
    sig.chars().take(64).collect()
}

struct SigParser<'a> {
    sig: &'a [u8],
    pos: usize,
    arrays: u32,
    structs: u32,
}

impl SigParser<'_> {
    fn complete(&mut self) -> Result<Type, &'static str> {
        let Some(&c) = self.sig.get(self.pos) else { return Err("ends in the middle of a type") };
        self.pos += 1;
        Ok(match c {
            b'y' => Type::Byte,
            b'b' => Type::Bool,
            b'n' => Type::I16,
            b'q' => Type::U16,
            b'i' => Type::I32,
            b'u' => Type::U32,
            b'x' => Type::I64,
            b't' => Type::U64,
            b'd' => Type::Double,
            b's' => Type::Str,
            b'o' => Type::ObjectPath,
            b'g' => Type::Signature,
            b'v' => Type::Variant,
            b'h' => return Err("unix file descriptors are not supported"),
            b'a' => {
                self.arrays += 1;
                if self.arrays > MAX_ARRAY_DEPTH {
                    return Err("arrays nested more than 32 deep");
                }
                let elem = if self.sig.get(self.pos) == Some(&b'{') {
                    self.pos += 1;
                    self.dict_entry()?
                } else {
                    self.complete()?
                };
                self.arrays -= 1;
                Type::Array(Box::new(elem))
            }
            b'(' => {
                self.structs += 1;
                if self.structs > MAX_STRUCT_DEPTH {
                    return Err("structs nested more than 32 deep");
                }
                let mut fields = Vec::new();
                loop {
                    match self.sig.get(self.pos) {
                        None => return Err("unclosed struct"),
                        Some(b')') => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => fields.push(self.complete()?),
                    }
                }
                if fields.is_empty() {
                    return Err("empty struct");
                }
                self.structs -= 1;
                Type::Struct(fields)
            }
            b'{' => return Err("dict entry outside an array"),
            b')' | b'}' => return Err("unbalanced closing bracket"),
            _ => return Err("unknown type code"),
        })
    }

    /// Parses `KV}` after an array's `{`: a basic key, any value, and the closing brace.
    fn dict_entry(&mut self) -> Result<Type, &'static str> {
        self.structs += 1;
        if self.structs > MAX_STRUCT_DEPTH {
            return Err("structs nested more than 32 deep");
        }
        let key = self.complete()?;
        if !key.is_basic() {
            return Err("dict entry key is not a basic type");
        }
        if self.sig.get(self.pos) == Some(&b'}') {
            return Err("dict entry has no value type");
        }
        let value = self.complete()?;
        if self.sig.get(self.pos) != Some(&b'}') {
            return Err("dict entry must hold exactly a key and a value");
        }
        self.pos += 1;
        self.structs -= 1;
        Ok(Type::DictEntry(Box::new(key), Box::new(value)))
    }
}

/// An array: its element type (needed to write an empty one) and its items.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub elem: Type,
    pub items: Vec<Value>,
}

/// A D-Bus value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    Variant(Box<Value>),
    Array(Box<Array>),
    Struct(Vec<Value>),
    DictEntry(Box<(Value, Value)>),
}

impl Value {
    /// An array of `elem` values. Whether the items match is checked when the value is marshalled.
    pub fn array(elem: Type, items: Vec<Value>) -> Value {
        Value::Array(Box::new(Array { elem, items }))
    }

    /// A dictionary `a{KV}` from key/value pairs.
    pub fn dict(key: Type, value: Type, pairs: Vec<(Value, Value)>) -> Value {
        let items = pairs.into_iter().map(|kv| Value::DictEntry(Box::new(kv))).collect();
        Value::array(Type::DictEntry(Box::new(key), Box::new(value)), items)
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// The type of this value.
    pub fn ty(&self) -> Type {
        match self {
            Value::Byte(_) => Type::Byte,
            Value::Bool(_) => Type::Bool,
            Value::I16(_) => Type::I16,
            Value::U16(_) => Type::U16,
            Value::I32(_) => Type::I32,
            Value::U32(_) => Type::U32,
            Value::I64(_) => Type::I64,
            Value::U64(_) => Type::U64,
            Value::Double(_) => Type::Double,
            Value::Str(_) => Type::Str,
            Value::ObjectPath(_) => Type::ObjectPath,
            Value::Signature(_) => Type::Signature,
            Value::Variant(_) => Type::Variant,
            Value::Array(a) => Type::Array(Box::new(a.elem.clone())),
            Value::Struct(fields) => Type::Struct(fields.iter().map(Value::ty).collect()),
            Value::DictEntry(kv) => Type::DictEntry(Box::new(kv.0.ty()), Box::new(kv.1.ty())),
        }
    }

    /// Whether this value is of type `t`, without building the value's type.
    pub fn is_of(&self, t: &Type) -> bool {
        match (self, t) {
            (Value::Byte(_), Type::Byte)
            | (Value::Bool(_), Type::Bool)
            | (Value::I16(_), Type::I16)
            | (Value::U16(_), Type::U16)
            | (Value::I32(_), Type::I32)
            | (Value::U32(_), Type::U32)
            | (Value::I64(_), Type::I64)
            | (Value::U64(_), Type::U64)
            | (Value::Double(_), Type::Double)
            | (Value::Str(_), Type::Str)
            | (Value::ObjectPath(_), Type::ObjectPath)
            | (Value::Signature(_), Type::Signature)
            | (Value::Variant(_), Type::Variant) => true,
            (Value::Array(a), Type::Array(elem)) => a.elem == **elem,
            (Value::Struct(fields), Type::Struct(types)) => {
                fields.len() == types.len() && fields.iter().zip(types).all(|(f, t)| f.is_of(t))
            }
            (Value::DictEntry(kv), Type::DictEntry(k, v)) => kv.0.is_of(k) && kv.1.is_of(v),
            _ => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            _ => None,
        }
    }

    /// The value inside a variant.
    pub fn as_variant(&self) -> Option<&Value> {
        match self {
            Value::Variant(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&[Value]> {
        match self {
            Value::Struct(fields) => Some(fields),
            _ => None,
        }
    }
}

/// Whether `s` is a valid object path: `/`, or `/`-separated non-empty elements of `[A-Za-z0-9_]`.
pub fn valid_object_path(s: &str) -> bool {
    if s == "/" {
        return true;
    }
    let Some(rest) = s.strip_prefix('/') else { return false };
    rest.split('/').all(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// How deep the current value is, by kind of container.
#[derive(Clone, Copy, Default)]
struct Depth {
    arrays: u32,
    structs: u32,
    total: u32,
}

impl Depth {
    fn enter_array(self) -> Result<Depth, Error> {
        Depth { arrays: self.arrays + 1, total: self.total + 1, ..self }.check()
    }
    fn enter_struct(self) -> Result<Depth, Error> {
        Depth { structs: self.structs + 1, total: self.total + 1, ..self }.check()
    }
    fn enter_variant(self) -> Result<Depth, Error> {
        Depth { total: self.total + 1, ..self }.check()
    }
    fn check(self) -> Result<Depth, Error> {
        if self.arrays > MAX_ARRAY_DEPTH || self.structs > MAX_STRUCT_DEPTH || self.total > MAX_TOTAL_DEPTH {
            return Err(Error::TooDeep);
        }
        Ok(self)
    }
}

/// Writes values little-endian into a buffer whose offset 0 is 8-aligned in the message.
#[derive(Default)]
pub struct Encoder {
    pub buf: Vec<u8>,
}

impl Encoder {
    pub fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    pub fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) -> Result<(), Error> {
        if s.contains('\0') {
            return Err(Error::Encode("string contains a NUL byte".into()));
        }
        let len = u32::try_from(s.len()).map_err(|_| Error::Encode("string longer than 4 GiB".into()))?;
        self.u32(len);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    fn signature(&mut self, s: &str) -> Result<(), Error> {
        Type::parse_signature(s)?;
        // A parsed signature is at most 255 bytes.
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// Writes one value at its alignment.
    pub fn value(&mut self, v: &Value) -> Result<(), Error> {
        self.value_at(v, Depth::default())
    }

    fn value_at(&mut self, v: &Value, depth: Depth) -> Result<(), Error> {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I16(n) => {
                self.pad(2);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::U16(n) => {
                self.pad(2);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::I32(n) => {
                self.pad(4);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::U32(n) => self.u32(*n),
            Value::I64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::U64(n) => {
                self.pad(8);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            Value::Double(d) => {
                self.pad(8);
                self.buf.extend_from_slice(&d.to_bits().to_le_bytes());
            }
            Value::Str(s) => self.string(s)?,
            Value::ObjectPath(s) => {
                if !valid_object_path(s) {
                    return Err(Error::Encode(format!("invalid object path {s:?}")));
                }
                self.string(s)?;
            }
            Value::Signature(s) => self.signature(s)?,
            Value::Variant(inner) => {
                let depth = depth.enter_variant()?;
                self.signature(&inner.ty().signature())?;
                self.value_at(inner, depth)?;
            }
            Value::Array(a) => {
                let depth = depth.enter_array()?;
                // The element type must itself be valid (a dict entry only directly inside an array).
                let mut sig = String::from("a");
                a.elem.write_signature(&mut sig);
                Type::parse_single(&sig)?;
                self.pad(4);
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                self.pad(a.elem.alignment());
                let start = self.buf.len();
                for item in &a.items {
                    if !item.is_of(&a.elem) {
                        return Err(Error::Encode(format!(
                            "array of {} holds a {}",
                            a.elem.signature(),
                            item.ty().signature()
                        )));
                    }
                    self.value_at(item, depth)?;
                }
                let len = self.buf.len() - start;
                if len > MAX_ARRAY_BYTES {
                    return Err(Error::Encode(format!("array of {len} bytes exceeds {MAX_ARRAY_BYTES}")));
                }
                self.buf[len_at..len_at + 4].copy_from_slice(&(len as u32).to_le_bytes());
            }
            Value::Struct(fields) => {
                if fields.is_empty() {
                    return Err(Error::Encode("empty struct".into()));
                }
                let depth = depth.enter_struct()?;
                self.pad(8);
                for f in fields {
                    self.value_at(f, depth)?;
                }
            }
            Value::DictEntry(kv) => {
                if !kv.0.ty().is_basic() {
                    return Err(Error::Encode("dict entry key is not a basic type".into()));
                }
                let depth = depth.enter_struct()?;
                self.pad(8);
                self.value_at(&kv.0, depth)?;
                self.value_at(&kv.1, depth)?;
            }
        }
        Ok(())
    }
}

/// Reads values from untrusted bytes. Offset 0 of `buf` must be 8-aligned in the message.
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
    values: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8], big_endian: bool) -> Self {
        Decoder { buf, pos: 0, big_endian, values: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn err(&self, what: &str) -> Error {
        Error::Malformed(format!("at byte {}: {what}", self.pos))
    }

    /// Skips padding up to `align`, which must be present and zero.
    pub fn align(&mut self, align: usize) -> Result<(), Error> {
        let rem = self.pos % align;
        if rem == 0 {
            return Ok(());
        }
        let pad = self.take(align - rem)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(self.err("non-zero padding"));
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.remaining() {
            return Err(self.err(&format!("{n} bytes needed, {} left", self.remaining())));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.align(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        if self.big_endian {
            a.reverse();
        }
        // Bytes are now little-endian.
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a length-prefixed, NUL-terminated UTF-8 string with no NUL inside.
    fn string(&mut self) -> Result<String, Error> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        if self.u8()? != 0 {
            return Err(self.err("string not NUL-terminated"));
        }
        if bytes.contains(&0) {
            return Err(self.err("string contains a NUL byte"));
        }
        let s = std::str::from_utf8(bytes).map_err(|_| self.err("string is not UTF-8"))?;
        Ok(s.to_owned())
    }

    fn signature(&mut self) -> Result<String, Error> {
        let len = self.u8()? as usize;
        let bytes = self.take(len)?;
        if self.u8()? != 0 {
            return Err(self.err("signature not NUL-terminated"));
        }
        let s = std::str::from_utf8(bytes).map_err(|_| self.err("signature is not ASCII"))?;
        Type::parse_signature(s)?;
        Ok(s.to_owned())
    }

    /// Reads one value of type `t`.
    pub fn value(&mut self, t: &Type) -> Result<Value, Error> {
        self.value_at(t, Depth::default())
    }

    /// Counts `n` more values against [`MAX_VALUES`].
    fn charge(&mut self, n: usize) -> Result<(), Error> {
        self.values = self.values.saturating_add(n);
        if self.values > MAX_VALUES {
            return Err(Error::TooManyValues);
        }
        Ok(())
    }

    fn value_at(&mut self, t: &Type, depth: Depth) -> Result<Value, Error> {
        self.charge(1)?;
        Ok(match t {
            Type::Byte => Value::Byte(self.u8()?),
            Type::Bool => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(self.err(&format!("boolean is {n}, not 0 or 1"))),
            },
            Type::I16 => Value::I16(i16::from_le_bytes(self.array()?)),
            Type::U16 => Value::U16(u16::from_le_bytes(self.array()?)),
            Type::I32 => Value::I32(i32::from_le_bytes(self.array()?)),
            Type::U32 => Value::U32(self.u32()?),
            Type::I64 => Value::I64(i64::from_le_bytes(self.array()?)),
            Type::U64 => Value::U64(u64::from_le_bytes(self.array()?)),
            Type::Double => Value::Double(f64::from_bits(u64::from_le_bytes(self.array()?))),
            Type::Str => Value::Str(self.string()?),
            Type::ObjectPath => {
                let s = self.string()?;
                if !valid_object_path(&s) {
                    return Err(self.err("invalid object path"));
                }
                Value::ObjectPath(s)
            }
            Type::Signature => Value::Signature(self.signature()?),
            Type::Variant => {
                let depth = depth.enter_variant()?;
                let sig = self.signature()?;
                let inner = Type::parse_single(&sig)?;
                Value::Variant(Box::new(self.value_at(&inner, depth)?))
            }
            Type::Array(elem) => {
                let depth = depth.enter_array()?;
                // The array keeps its own copy of the element type.
                self.charge(elem.nodes())?;
                let len = self.u32()? as usize;
                if len > MAX_ARRAY_BYTES {
                    return Err(self.err(&format!("array of {len} bytes exceeds {MAX_ARRAY_BYTES}")));
                }
                self.align(elem.alignment())?;
                if len > self.remaining() {
                    return Err(self.err(&format!("array of {len} bytes, {} left", self.remaining())));
                }
                let end = self.pos + len;
                // Items are pushed as they are read, so memory follows the bytes actually present.
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value_at(elem, depth)?);
                }
                if self.pos != end {
                    return Err(self.err("array items overrun the array length"));
                }
                Value::Array(Box::new(Array { elem: (**elem).clone(), items }))
            }
            Type::Struct(fields) => {
                let depth = depth.enter_struct()?;
                self.align(8)?;
                let mut values = Vec::with_capacity(fields.len());
                for f in fields {
                    values.push(self.value_at(f, depth)?);
                }
                Value::Struct(values)
            }
            Type::DictEntry(k, v) => {
                let depth = depth.enter_struct()?;
                self.align(8)?;
                let key = self.value_at(k, depth)?;
                let value = self.value_at(v, depth)?;
                Value::DictEntry(Box::new((key, value)))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: Value) {
        let mut e = Encoder::default();
        e.value(&v).unwrap();
        let mut d = Decoder::new(&e.buf, false);
        let back = d.value(&v.ty()).unwrap();
        assert_eq!(back, v);
        assert_eq!(d.remaining(), 0, "{v:?}");
    }

    #[test]
    fn basic_types_round_trip() {
        for v in [
            Value::Byte(0xfe),
            Value::Bool(true),
            Value::Bool(false),
            Value::I16(-2),
            Value::U16(65535),
            Value::I32(i32::MIN),
            Value::U32(u32::MAX),
            Value::I64(i64::MIN),
            Value::U64(u64::MAX),
            Value::Double(-1.5),
            Value::str("héllo"),
            Value::str(""),
            Value::ObjectPath("/org/freedesktop/systemd1/unit/ssh_2eservice".into()),
            Value::ObjectPath("/".into()),
            Value::Signature("a{sv}(ii)".into()),
        ] {
            round_trip(v);
        }
    }

    #[test]
    fn containers_round_trip_with_alignment() {
        let unit = Value::Struct(vec![
            Value::str("ssh.service"),
            Value::Byte(1),
            Value::U64(7),
            Value::ObjectPath("/a".into()),
            Value::U32(3),
        ]);
        round_trip(Value::array(unit.ty(), vec![unit.clone(), unit.clone()]));
        round_trip(Value::array(unit.ty(), vec![]));
        round_trip(Value::dict(
            Type::Str,
            Type::Variant,
            vec![
                (Value::str("a"), Value::variant(Value::U64(1))),
                (Value::str("b"), Value::variant(Value::array(Type::Byte, vec![Value::Byte(1)]))),
            ],
        ));
        round_trip(Value::Struct(vec![Value::Byte(1), Value::variant(Value::variant(Value::I16(-1)))]));
        // A struct after a byte starts on an 8-byte boundary, and an empty array of structs still pads.
        let mut e = Encoder::default();
        e.value(&Value::Byte(9)).unwrap();
        e.value(&Value::Struct(vec![Value::U64(1)])).unwrap();
        assert_eq!(e.buf.len(), 16);
        let mut e = Encoder::default();
        e.value(&Value::array(Type::Struct(vec![Type::U64]), vec![])).unwrap();
        assert_eq!(e.buf, [0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn big_endian_is_read() {
        let bytes = [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
        let mut d = Decoder::new(&bytes, true);
        assert_eq!(d.value(&Type::U32).unwrap(), Value::U32(2));
        assert_eq!(d.value(&Type::U64).unwrap(), Value::U64(5));
    }

    #[test]
    fn signatures() {
        for good in ["", "a(ssssssouso)", "a{sv}", "(i(ii))", "aay", "v"] {
            let types = Type::parse_signature(good).unwrap();
            assert_eq!(types.iter().map(Type::signature).collect::<String>(), good);
        }
        let deep_arrays = "a".repeat(33) + "y";
        let deep_structs = "(".repeat(33) + "y" + &")".repeat(33);
        let long = "y".repeat(256);
        for bad in [
            "a",
            "(",
            "()",
            "(i",
            "i)",
            "{sv}",
            "a{vs}",
            "a{s}",
            "a{sss}",
            "z",
            "h",
            "a{sv",
            &deep_arrays,
            &deep_structs,
            &long,
        ] {
            let err = Type::parse_signature(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid d-bus signature"), "{bad}: {err}");
        }
        assert!(Type::parse_single("ii").is_err());
        assert!(Type::parse_single("").is_err());
    }

    #[test]
    fn encoding_refuses_bad_values() {
        for bad in [
            Value::str("a\0b"),
            Value::ObjectPath("no/slash".into()),
            Value::ObjectPath("/trailing/".into()),
            Value::ObjectPath("/a//b".into()),
            Value::Signature("a{".into()),
            Value::Struct(vec![]),
            Value::array(Type::U32, vec![Value::str("x")]),
            Value::array(Type::DictEntry(Box::new(Type::Variant), Box::new(Type::U32)), vec![]),
        ] {
            let err = Encoder::default().value(&bad).unwrap_err().to_string();
            assert!(err.contains("d-bus"), "{bad:?}: {err}");
        }
        let mut deep = Value::U32(1);
        for _ in 0..65 {
            deep = Value::variant(deep);
        }
        assert!(matches!(Encoder::default().value(&deep), Err(Error::TooDeep)));
    }

    fn decode_err(bytes: &[u8], sig: &str) -> String {
        let t = Type::parse_single(sig).unwrap();
        Decoder::new(bytes, false).value(&t).unwrap_err().to_string()
    }

    #[test]
    fn hostile_bytes_are_errors() {
        // Truncated fixed-size values and strings.
        assert!(decode_err(&[1, 0], "u").contains("4 bytes needed"));
        assert!(decode_err(&[5, 0, 0, 0, b'a'], "s").contains("needed"));
        assert!(decode_err(&[1, 0, 0, 0, b'a', b'b'], "s").contains("NUL-terminated"));
        assert!(decode_err(&[1, 0, 0, 0, 0, 0], "s").contains("NUL byte"));
        assert!(decode_err(&[1, 0, 0, 0, 0xff, 0], "s").contains("UTF-8"));
        assert!(decode_err(&[1, 0, 0, 0, b'x', 0], "o").contains("object path"));
        assert!(decode_err(&[2, 0, 0, 0], "b").contains("boolean"));
        // A huge string length must not allocate: it is checked against the bytes present.
        assert!(decode_err(&[0xff, 0xff, 0xff, 0xff, 0], "s").contains("needed"));
        // Absurd array lengths: over the cap, and over what is present.
        assert!(decode_err(&[0xff, 0xff, 0xff, 0xff], "ay").contains("exceeds"));
        assert!(decode_err(&[0, 0, 0, 1], "ay").contains("left"));
        // An item that overruns its array.
        assert!(decode_err(&[2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0], "au").contains("overrun"));
        // Non-zero padding.
        assert!(decode_err(&[0, 0, 0, 0, 1, 0, 0, 0], "a(y)").contains("padding"));
        // Variant signatures that are empty, invalid or hold two types.
        assert!(decode_err(&[0, 0], "v").contains("exactly one"));
        assert!(decode_err(&[1, b'{', 0], "v").contains("signature"));
        assert!(decode_err(&[2, b'u', b'u', 0], "v").contains("exactly one"));
        assert!(decode_err(&[1, b'u', 1], "v").contains("NUL-terminated"));
    }

    #[test]
    fn deeply_nested_variants_are_refused() {
        // Each level is a variant holding a variant: signature "v" (1, 'v', 0), forever.
        let bytes: Vec<u8> = std::iter::repeat_n([1u8, b'v', 0], 10_000).flatten().collect();
        let err = Decoder::new(&bytes, false).value(&Type::Variant).unwrap_err();
        assert!(matches!(err, Error::TooDeep), "{err}");
        // Variants holding arrays of variants: each level is "av", its length, then the inner level, which
        // keeps every level 8-aligned. Twenty levels are fine; forty exceed the limits.
        let nest = |levels: usize| {
            let mut bytes = vec![1u8, b'u', 0, 0, 5, 0, 0, 0];
            for _ in 0..levels {
                let mut outer = vec![2u8, b'a', b'v', 0];
                outer.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                outer.extend_from_slice(&bytes);
                bytes = outer;
            }
            bytes
        };
        let ok = nest(20);
        let mut d = Decoder::new(&ok, false);
        d.value(&Type::Variant).unwrap();
        assert_eq!(d.remaining(), 0);
        let err = Decoder::new(&nest(40), false).value(&Type::Variant).unwrap_err();
        assert!(matches!(err, Error::TooDeep), "{err}");
    }

    #[test]
    fn copies_of_big_element_types_count_against_the_budget() {
        // "aa(yyy...)": an outer array of many empty inner arrays, each of which would keep a copy of a
        // 200-field struct type. Eight bytes per inner array must not turn into kilobytes each.
        let inner = Type::Struct(vec![Type::Byte; 200]);
        let t = Type::Array(Box::new(Type::Array(Box::new(inner))));
        let n = 100_000usize;
        let mut bytes = ((n * 8 - 4) as u32).to_le_bytes().to_vec();
        for i in 0..n {
            if i > 0 {
                bytes.extend_from_slice(&[0; 4]);
            }
            bytes.extend_from_slice(&[0, 0, 0, 0]);
        }
        let err = Decoder::new(&bytes, false).value(&t).unwrap_err();
        assert!(matches!(err, Error::TooManyValues), "{err}");
    }

    #[test]
    fn value_count_is_capped() {
        // An array of MAX_VALUES + 1 bytes would decode to more values than allowed.
        let n = MAX_VALUES + 1;
        let mut bytes = (n as u32).to_le_bytes().to_vec();
        bytes.resize(4 + n, 7);
        let err = Decoder::new(&bytes, false).value(&Type::Array(Box::new(Type::Byte))).unwrap_err();
        assert!(matches!(err, Error::TooManyValues), "{err}");
    }

    #[test]
    fn random_bytes_never_panic() {
        // A fixed xorshift generator: the same cases on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let types: Vec<Type> = ["a(ssssssouso)", "v", "a{sv}", "(ybnqiuxtdsog)", "aav", "a{oa{sv}}"]
            .iter()
            .map(|s| Type::parse_single(s).unwrap())
            .collect();
        for _ in 0..20_000 {
            let len = (next() % 96) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    // Mostly small numbers, so lengths are sometimes plausible.
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        (r >> 8) as u8 % 8
                    }
                })
                .collect();
            for t in &types {
                let _ = Decoder::new(&bytes, next() % 2 == 0).value(t);
            }
        }
    }
}
