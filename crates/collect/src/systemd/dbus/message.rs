//! D-Bus messages: the fixed header, the header fields, and the body, with the checks a receiver must make
//! before trusting any of it.

use super::wire::{valid_object_path, Decoder, Encoder, Type, Value};
use super::{Error, MAX_ARRAY_BYTES, MAX_MESSAGE_BYTES};

/// The reply to this message is not wanted.
pub const FLAG_NO_REPLY_EXPECTED: u8 = 0x1;

const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SENDER: u8 = 7;
const FIELD_SIGNATURE: u8 = 8;
const FIELD_UNIX_FDS: u8 = 9;

/// The length of the fixed part of the header, up to and including the header fields' array length.
pub const FIXED_HEADER_LEN: usize = 16;

/// What a message is. Types this client does not know are kept so they can be ignored, as the spec says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    MethodCall,
    MethodReturn,
    Error,
    Signal,
    Unknown(u8),
}

impl MessageType {
    fn code(self) -> u8 {
        match self {
            MessageType::MethodCall => 1,
            MessageType::MethodReturn => 2,
            MessageType::Error => 3,
            MessageType::Signal => 4,
            MessageType::Unknown(c) => c,
        }
    }

    fn from_code(c: u8) -> Self {
        match c {
            1 => MessageType::MethodCall,
            2 => MessageType::MethodReturn,
            3 => MessageType::Error,
            4 => MessageType::Signal,
            c => MessageType::Unknown(c),
        }
    }
}

/// One message. The serial is assigned when it is sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    fn new(kind: MessageType) -> Self {
        Message {
            kind,
            flags: 0,
            serial: 0,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body: Vec::new(),
        }
    }

    /// A method call to `member` of `interface` on object `path` of `destination`.
    pub fn method_call(destination: &str, path: &str, interface: &str, member: &str, body: Vec<Value>) -> Self {
        Message {
            destination: Some(destination.to_owned()),
            path: Some(path.to_owned()),
            interface: Some(interface.to_owned()),
            member: Some(member.to_owned()),
            body,
            ..Message::new(MessageType::MethodCall)
        }
    }

    /// The successful reply to `call`.
    pub fn method_return(call: &Message, body: Vec<Value>) -> Self {
        Message {
            reply_serial: Some(call.serial),
            destination: call.sender.clone(),
            body,
            ..Message::new(MessageType::MethodReturn)
        }
    }

    /// An error reply to `call`, with the conventional human-readable string as its body.
    pub fn error(call: &Message, name: &str, text: &str) -> Self {
        Message {
            error_name: Some(name.to_owned()),
            reply_serial: Some(call.serial),
            destination: call.sender.clone(),
            body: vec![Value::str(text)],
            ..Message::new(MessageType::Error)
        }
    }

    /// The body's signature.
    pub fn signature(&self) -> String {
        let mut s = String::new();
        for v in &self.body {
            v.ty().write_signature(&mut s);
        }
        s
    }

    /// Marshals the message, little-endian, with the given serial.
    pub fn encode(&self, serial: u32) -> Result<Vec<u8>, Error> {
        if serial == 0 {
            return Err(Error::Encode("serial 0 is reserved".into()));
        }
        let required: &[(bool, &str)] = match self.kind {
            MessageType::MethodCall => &[(self.path.is_some(), "path"), (self.member.is_some(), "member")],
            MessageType::MethodReturn => &[(self.reply_serial.is_some(), "reply serial")],
            MessageType::Error => {
                &[(self.error_name.is_some(), "error name"), (self.reply_serial.is_some(), "reply serial")]
            }
            MessageType::Signal => &[
                (self.path.is_some(), "path"),
                (self.interface.is_some(), "interface"),
                (self.member.is_some(), "member"),
            ],
            MessageType::Unknown(c) => return Err(Error::Encode(format!("unknown message type {c}"))),
        };
        if let Some((_, what)) = required.iter().find(|(present, _)| !present) {
            return Err(Error::Encode(format!("{:?} message without a {what}", self.kind)));
        }

        let mut body = Encoder::default();
        for v in &self.body {
            body.value(v)?;
        }
        let signature = self.signature();

        let mut fields = Vec::new();
        let mut field = |code: u8, v: Value| fields.push(Value::Struct(vec![Value::Byte(code), Value::variant(v)]));
        if let Some(p) = &self.path {
            field(FIELD_PATH, Value::ObjectPath(p.clone()));
        }
        for (code, s) in [
            (FIELD_INTERFACE, &self.interface),
            (FIELD_MEMBER, &self.member),
            (FIELD_ERROR_NAME, &self.error_name),
            (FIELD_DESTINATION, &self.destination),
            (FIELD_SENDER, &self.sender),
        ] {
            if let Some(s) = s {
                field(code, Value::Str(s.clone()));
            }
        }
        if let Some(r) = self.reply_serial {
            field(FIELD_REPLY_SERIAL, Value::U32(r));
        }
        if !signature.is_empty() {
            field(FIELD_SIGNATURE, Value::Signature(signature));
        }

        let body_len = u32::try_from(body.buf.len()).map_err(|_| Error::TooLarge(body.buf.len() as u64))?;
        let mut e = Encoder::default();
        e.buf.extend_from_slice(&[b'l', self.kind.code(), self.flags, 1]);
        e.u32(body_len);
        e.u32(serial);
        e.value(&Value::array(Type::Struct(vec![Type::Byte, Type::Variant]), fields))?;
        e.pad(8);
        e.buf.extend_from_slice(&body.buf);
        if e.buf.len() > MAX_MESSAGE_BYTES {
            return Err(Error::TooLarge(e.buf.len() as u64));
        }
        Ok(e.buf)
    }

    /// The total length of the message that starts `head`, once its fixed header is there: `None` while
    /// fewer than [`FIXED_HEADER_LEN`] bytes have arrived. Refuses bad byte orders, versions and sizes.
    pub fn frame_len(head: &[u8]) -> Result<Option<usize>, Error> {
        let Some(head) = head.get(..FIXED_HEADER_LEN) else { return Ok(None) };
        let big = big_endian(head[0])?;
        if head[3] != 1 {
            return Err(Error::Malformed(format!("protocol version {}, want 1", head[3])));
        }
        let word = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&head[at..at + 4]);
            u64::from(if big { u32::from_be_bytes(w) } else { u32::from_le_bytes(w) })
        };
        let (body_len, fields_len) = (word(4), word(12));
        if fields_len > MAX_ARRAY_BYTES as u64 {
            return Err(Error::Malformed(format!("header fields of {fields_len} bytes")));
        }
        let total = (FIXED_HEADER_LEN as u64 + fields_len).next_multiple_of(8) + body_len;
        if total > MAX_MESSAGE_BYTES as u64 {
            return Err(Error::TooLarge(total));
        }
        // The total is at most MAX_MESSAGE_BYTES, so it fits a usize.
        Ok(Some(total as usize))
    }

    /// Unmarshals one whole message; `buf` must hold exactly one.
    pub fn decode(buf: &[u8]) -> Result<Message, Error> {
        let Some(total) = Message::frame_len(buf)? else {
            return Err(Error::Malformed(format!("{} bytes is shorter than a header", buf.len())));
        };
        if buf.len() != total {
            return Err(Error::Malformed(format!("message is {} bytes, its header says {total}", buf.len())));
        }
        let big = big_endian(buf[0])?;
        let mut d = Decoder::new(buf, big);
        d.u8()?;
        let kind = match d.u8()? {
            0 => return Err(Error::Malformed("message type 0 is invalid".into())),
            c => MessageType::from_code(c),
        };
        let flags = d.u8()?;
        d.u8()?;
        let body_len = d.u32()? as usize;
        let serial = d.u32()?;
        if serial == 0 {
            return Err(Error::Malformed("serial 0".into()));
        }
        let fields = d.value(&Type::Array(Box::new(Type::Struct(vec![Type::Byte, Type::Variant]))))?;
        d.align(8)?;
        let body_start = d.pos();
        if buf.len() - body_start != body_len {
            return Err(Error::Malformed("body length disagrees with the header".into()));
        }

        let mut m = Message { flags, serial, ..Message::new(kind) };
        let mut signature = None;
        let mut seen = [false; 10];
        for f in fields.as_array().map(|a| a.items.as_slice()).unwrap_or_default() {
            let (code, value) = match f.as_struct() {
                Some([Value::Byte(code), Value::Variant(v)]) => (*code, &**v),
                _ => return Err(Error::Malformed("bad header field".into())),
            };
            if let Some(seen) = seen.get_mut(code as usize) {
                if *seen {
                    return Err(Error::Malformed(format!("header field {code} appears twice")));
                }
                *seen = true;
            }
            let wrong = || Error::Malformed(format!("header field {code} has type {}", value.ty().signature()));
            let string = || match value {
                Value::Str(s) => Ok(Some(s.clone())),
                _ => Err(wrong()),
            };
            match code {
                0 => return Err(Error::Malformed("header field 0 is invalid".into())),
                FIELD_PATH => match value {
                    Value::ObjectPath(p) => m.path = Some(p.clone()),
                    _ => return Err(wrong()),
                },
                FIELD_INTERFACE => m.interface = string()?,
                FIELD_MEMBER => m.member = string()?,
                FIELD_ERROR_NAME => m.error_name = string()?,
                FIELD_DESTINATION => m.destination = string()?,
                FIELD_SENDER => m.sender = string()?,
                FIELD_REPLY_SERIAL => match value {
                    Value::U32(0) => return Err(Error::Malformed("reply serial 0".into())),
                    Value::U32(r) => m.reply_serial = Some(*r),
                    _ => return Err(wrong()),
                },
                FIELD_SIGNATURE => match value {
                    Value::Signature(s) => signature = Some(s.clone()),
                    _ => return Err(wrong()),
                },
                FIELD_UNIX_FDS => match value {
                    Value::U32(0) => {}
                    Value::U32(_) => return Err(Error::Malformed("message carries unix fds".into())),
                    _ => return Err(wrong()),
                },
                // Unknown fields must be ignored.
                _ => {}
            }
        }
        let missing = match kind {
            MessageType::MethodCall if m.path.is_none() || m.member.is_none() => Some("path or member"),
            MessageType::MethodReturn if m.reply_serial.is_none() => Some("reply serial"),
            MessageType::Error if m.error_name.is_none() || m.reply_serial.is_none() => {
                Some("error name or reply serial")
            }
            MessageType::Signal if m.path.is_none() || m.interface.is_none() || m.member.is_none() => {
                Some("path, interface or member")
            }
            _ => None,
        };
        if let Some(what) = missing {
            return Err(Error::Malformed(format!("{kind:?} message without {what}")));
        }
        if m.path.as_deref().is_some_and(|p| !valid_object_path(p)) {
            return Err(Error::Malformed("invalid path".into()));
        }

        let types = Type::parse_signature(signature.as_deref().unwrap_or(""))?;
        let mut body = Decoder::new(&buf[body_start..], big);
        for t in &types {
            m.body.push(body.value(t)?);
        }
        if body.remaining() != 0 {
            return Err(Error::Malformed(format!("{} bytes left after the body", body.remaining())));
        }
        Ok(m)
    }
}

fn big_endian(flag: u8) -> Result<bool, Error> {
    match flag {
        b'l' => Ok(false),
        b'B' => Ok(true),
        b => Err(Error::Malformed(format!("byte order {b:#04x}, want 'l' or 'B'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> Message {
        Message::method_call(
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.DBus.Properties",
            "Get",
            vec![Value::str("org.freedesktop.systemd1.Manager"), Value::str("Version")],
        )
    }

    #[test]
    fn round_trip() {
        let mut m = call();
        m.sender = Some(":1.7".into());
        let bytes = m.encode(42).unwrap();
        assert_eq!(Message::frame_len(&bytes).unwrap(), Some(bytes.len()));
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, Message { serial: 42, ..m.clone() });

        let mut call = back;
        call.sender = Some(":1.7".into());
        let reply = Message::method_return(&call, vec![Value::variant(Value::str("252"))]);
        let back = Message::decode(&reply.encode(1).unwrap()).unwrap();
        assert_eq!(back.reply_serial, Some(42));
        assert_eq!(back.destination.as_deref(), Some(":1.7"));
        assert_eq!(back.body, vec![Value::variant(Value::str("252"))]);

        let err = Message::error(&call, "org.freedesktop.DBus.Error.UnknownProperty", "no such property");
        let back = Message::decode(&err.encode(2).unwrap()).unwrap();
        assert_eq!(back.kind, MessageType::Error);
        assert_eq!(back.error_name.as_deref(), Some("org.freedesktop.DBus.Error.UnknownProperty"));
    }

    #[test]
    fn encode_refuses_incomplete_messages() {
        let mut m = call();
        m.member = None;
        assert!(m.encode(1).unwrap_err().to_string().contains("member"));
        assert!(call().encode(0).is_err());
    }

    #[test]
    fn frame_len_checks_the_fixed_header() {
        let bytes = call().encode(1).unwrap();
        assert_eq!(Message::frame_len(&bytes[..15]).unwrap(), None);
        let mut bad = bytes.clone();
        bad[0] = b'x';
        assert!(Message::frame_len(&bad).unwrap_err().to_string().contains("byte order"));
        let mut bad = bytes.clone();
        bad[3] = 2;
        assert!(Message::frame_len(&bad).unwrap_err().to_string().contains("version"));
        let mut bad = bytes.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Message::frame_len(&bad), Err(Error::TooLarge(_))));
        let mut bad = bytes;
        bad[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Message::frame_len(&bad).unwrap_err().to_string().contains("header fields"));
    }

    #[test]
    fn every_truncation_and_byte_flip_is_an_error_or_a_message() {
        let bytes = call().encode(7).unwrap();
        for n in 0..bytes.len() {
            assert!(Message::decode(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] ^= flip;
                // Either outcome is fine; what matters is that there is no panic.
                let _ = Message::decode(&b);
            }
        }
    }

    #[test]
    fn header_field_checks() {
        // A method return without a reply serial, built by hand.
        let mut m = Message::method_return(&call(), vec![]);
        m.reply_serial = None;
        m.kind = MessageType::MethodCall;
        m.path = Some("/".into());
        m.member = Some("X".into());
        let mut bytes = m.encode(1).unwrap();
        bytes[1] = 2;
        assert!(Message::decode(&bytes).unwrap_err().to_string().contains("reply serial"));
        // A body without a signature field.
        let m = Message::method_call("d", "/", "i", "m", vec![]);
        let mut bytes = m.encode(1).unwrap();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        bytes[4] = 8;
        assert!(Message::decode(&bytes).unwrap_err().to_string().contains("left after the body"));
        // Message type 0.
        let mut bytes = call().encode(1).unwrap();
        bytes[1] = 0;
        assert!(Message::decode(&bytes).unwrap_err().to_string().contains("type 0"));
        // A serial of 0.
        let mut bytes = call().encode(1).unwrap();
        bytes[8..12].copy_from_slice(&[0; 4]);
        assert!(Message::decode(&bytes).unwrap_err().to_string().contains("serial 0"));
    }

    #[test]
    fn unknown_types_and_fields_are_kept_or_ignored() {
        let mut bytes = call().encode(1).unwrap();
        bytes[1] = 9;
        assert_eq!(Message::decode(&bytes).unwrap().kind, MessageType::Unknown(9));
    }
}
