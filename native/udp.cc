// Batched UDP I/O driven by Node's event loop.
//
// A UdpSocket owns one bound, non-blocking datagram socket and a uv_poll_t
// on it. When the socket becomes readable it drains it with recvmmsg() into
// a receive area that JavaScript also sees (an ArrayBuffer: no copy), scans
// every datagram with the SIP scanner into a slot array (also shared), and
// calls the JavaScript callback once per batch with the count. The callback
// must consume the batch before it returns: the next batch reuses the area.
//
// Sending is sendmmsg() of a batch described by [offset, length, ipv4, port]
// quads over one buffer; `sendBatchFd` does the same on a raw fd from any
// thread (shard workers send on the listen socket's fd directly).
//
// IPv4 only for now: addresses cross as uint32 in host order.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstring>
#include <vector>

#include "layout.h"
#include "parser.h"
#include "udp.h"

namespace sy {
namespace {

constexpr uint32_t META = 4;  // per datagram: offset, length, source ipv4, source port

inline uint32_t u32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : NONE; }

// Sends n datagrams; returns how many the kernel took (>= 0) or -errno.
int send_batch(int fd, const uint8_t* data, size_t size, const uint32_t* quads, uint32_t n) {
  constexpr uint32_t CHUNK = 64;
  mmsghdr msgs[CHUNK];
  iovec iov[CHUNK];
  sockaddr_in to[CHUNK];
  uint32_t done = 0;
  while (done < n) {
    uint32_t k = 0;
    for (; k < CHUNK && done + k < n; k++) {
      const uint32_t* q = quads + 4 * (done + k);
      if (static_cast<uint64_t>(q[0]) + q[1] > size) return -EINVAL;
      iov[k].iov_base = const_cast<uint8_t*>(data + q[0]);
      iov[k].iov_len = q[1];
      std::memset(&to[k], 0, sizeof(to[k]));
      to[k].sin_family = AF_INET;
      to[k].sin_addr.s_addr = htonl(q[2]);
      to[k].sin_port = htons(static_cast<uint16_t>(q[3]));
      std::memset(&msgs[k], 0, sizeof(msgs[k]));
      msgs[k].msg_hdr.msg_name = &to[k];
      msgs[k].msg_hdr.msg_namelen = sizeof(to[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r;
    do {
      r = sendmmsg(fd, msgs, k, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      // A datagram the kernel refuses (e.g. ECONNREFUSED from an earlier ICMP,
      // or EAGAIN on a full buffer) is dropped, the rest of the batch goes on.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return static_cast<int>(done);
      done += 1;
      continue;
    }
    done += static_cast<uint32_t>(r);
    if (static_cast<uint32_t>(r) < k && r == 0) break;
  }
  return static_cast<int>(done);
}

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {InstanceMethod("start", &UdpSocket::Start), InstanceMethod("stop", &UdpSocket::Stop),
                        InstanceMethod("close", &UdpSocket::Close), InstanceMethod("send", &UdpSocket::Send),
                        InstanceMethod("drain", &UdpSocket::Drain),
                        InstanceAccessor("fd", &UdpSocket::Fd, nullptr),
                        InstanceAccessor("port", &UdpSocket::Port, nullptr),
                        InstanceAccessor("stats", &UdpSocket::Stats, nullptr)});
  }

  // new UdpSocket(ip, port, { batch, slot, rcvbuf, sndbuf, parse }, onBatch)
  explicit UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsObject() ||
        !info[3].IsFunction()) {
      Napi::TypeError::New(env, "UdpSocket(ip, port, options, onBatch)").ThrowAsJavaScriptException();
      return;
    }
    std::string ip = info[0].As<Napi::String>().Utf8Value();
    uint32_t port = u32(info[1]);
    Napi::Object o = info[2].As<Napi::Object>();
    batch_ = o.Has("batch") ? u32(o.Get("batch")) : 64;
    slot_ = o.Has("slot") ? u32(o.Get("slot")) : 65536;
    uint32_t rcvbuf = o.Has("rcvbuf") ? u32(o.Get("rcvbuf")) : 0;
    uint32_t sndbuf = o.Has("sndbuf") ? u32(o.Get("sndbuf")) : 0;
    parse_ = o.Has("parse") ? o.Get("parse").ToBoolean().Value() : true;
    if (batch_ == 0 || batch_ > 1024 || slot_ < 512 || slot_ > 65536 || port > 65535) {
      Napi::RangeError::New(env, "UdpSocket: batch 1..1024, slot 512..65536, port 0..65535")
          .ThrowAsJavaScriptException();
      return;
    }
    in_addr addr;
    if (inet_pton(AF_INET, ip.c_str(), &addr) != 1) {
      Napi::TypeError::New(env, "UdpSocket: not an IPv4 address: " + ip).ThrowAsJavaScriptException();
      return;
    }
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      Napi::Error::New(env, std::string("socket: ") + strerror(errno)).ThrowAsJavaScriptException();
      return;
    }
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (rcvbuf) {
      int v = static_cast<int>(rcvbuf);
      if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
    if (sndbuf) {
      int v = static_cast<int>(sndbuf);
      if (setsockopt(fd_, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
        setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
    sockaddr_in sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr = addr;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      int e = errno;
      ::close(fd_);
      fd_ = -1;
      Napi::Error err = Napi::Error::New(env, "bind " + ip + ":" + std::to_string(port) + ": " + strerror(e));
      err.Set("code", Napi::String::New(env, e == EADDRINUSE ? "EADDRINUSE" : "EBIND"));
      err.ThrowAsJavaScriptException();
      return;
    }
    socklen_t sl = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &sl);
    port_ = ntohs(sa.sin_port);

    // Receive area, meta and slots are JS-visible typed arrays.
    Napi::ArrayBuffer area = Napi::ArrayBuffer::New(env, static_cast<size_t>(batch_) * slot_);
    Napi::Uint32Array meta = Napi::Uint32Array::New(env, static_cast<size_t>(batch_) * META);
    Napi::Uint32Array slots = Napi::Uint32Array::New(env, parse_ ? static_cast<size_t>(batch_) * STRIDE : 1);
    area_ = static_cast<uint8_t*>(area.Data());
    meta_ = meta.Data();
    slots_ = slots.Data();
    Napi::Object self = info.This().As<Napi::Object>();
    self.Set("buffer", Napi::Buffer<uint8_t>::New(env, area_, area.ByteLength(), [](Napi::Env, uint8_t*) {}));
    self.Set("area", area);
    self.Set("meta", meta);
    self.Set("slots", slots);
    area_ref_ = Napi::Persistent(area);
    meta_ref_ = Napi::Persistent(meta.As<Napi::Object>());
    slots_ref_ = Napi::Persistent(slots.As<Napi::Object>());
    callback_ = Napi::Persistent(info[3].As<Napi::Function>());

    msgs_.resize(batch_);
    iov_.resize(batch_);
    from_.resize(batch_);
    for (uint32_t i = 0; i < batch_; i++) {
      iov_[i].iov_base = area_ + static_cast<size_t>(i) * slot_;
      iov_[i].iov_len = slot_;
    }
    env_ = env;
  }

  ~UdpSocket() override { CloseNow(); }

  Limits limits;  // scanner limits for this socket's batches (start() options)

 private:
  static void OnPoll(uv_poll_t* h, int status, int events) {
    UdpSocket* self = static_cast<UdpSocket*>(h->data);
    if (status < 0 || !(events & UV_READABLE)) return;
    self->ReadSome(8);
  }

  // Drains up to `rounds` batches; returns the number of datagrams delivered.
  uint32_t ReadSome(uint32_t rounds) {
    uint32_t total = 0;
    Napi::Env env = env_;
    for (uint32_t r = 0; r < rounds && fd_ >= 0 && running_; r++) {
      for (uint32_t i = 0; i < batch_; i++) {
        std::memset(&msgs_[i], 0, sizeof(mmsghdr));
        msgs_[i].msg_hdr.msg_name = &from_[i];
        msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
      }
      int n;
      do {
        n = recvmmsg(fd_, msgs_.data(), batch_, MSG_DONTWAIT, nullptr);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) break;
      batches_++;
      for (int i = 0; i < n; i++) {
        uint32_t off = static_cast<uint32_t>(i) * slot_;
        uint32_t len = msgs_[i].msg_len;
        if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) truncated_++;
        meta_[i * META + 0] = off;
        meta_[i * META + 1] = len;
        meta_[i * META + 2] = ntohl(from_[i].sin_addr.s_addr);
        meta_[i * META + 3] = ntohs(from_[i].sin_port);
        if (parse_) parse_message(area_, off, len, limits, slots_ + static_cast<size_t>(i) * STRIDE);
      }
      received_ += static_cast<uint64_t>(n);
      total += static_cast<uint32_t>(n);
      Napi::HandleScope scope(env);
      callback_.MakeCallback(Value(), {Napi::Number::New(env, n)});
      if (env.IsExceptionPending()) break;
      if (static_cast<uint32_t>(n) < batch_) break;
    }
    return total;
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      if (o.Has("maxMessage")) limits.max_message = u32(o.Get("maxMessage"));
      if (o.Has("maxHeaders")) limits.max_headers = u32(o.Get("maxHeaders"));
      if (o.Has("maxHeaderLine")) limits.max_header_line = u32(o.Get("maxHeaderLine"));
    }
    if (fd_ < 0) return Napi::Boolean::New(env, false);
    if (!poll_) {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      poll_ = new uv_poll_t;
      uv_poll_init(loop, poll_, fd_);
      poll_->data = this;
    }
    running_ = true;
    uv_poll_start(poll_, UV_READABLE, OnPoll);
    Ref();  // keep the wrapper alive while polling
    refd_ = true;
    return Napi::Boolean::New(env, true);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPolling();
    return info.Env().Undefined();
  }

  void StopPolling() {
    running_ = false;
    if (poll_) uv_poll_stop(poll_);
    if (refd_) {
      refd_ = false;
      Unref();
    }
  }

  void CloseNow() {
    running_ = false;
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopPolling();
    CloseNow();
    return info.Env().Undefined();
  }

  // drain(): read whatever is queued now (tests and shutdown).
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    bool was = running_;
    running_ = true;
    uint32_t n = ReadSome(64);
    running_ = was;
    return Napi::Number::New(info.Env(), n);
  }

  // send(buf, quads, count) -> datagrams sent (or -errno)
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) return Napi::Number::New(env, -EBADF);
    Napi::Uint8Array b = info[0].As<Napi::Uint8Array>();
    Napi::Uint32Array q = info[1].As<Napi::Uint32Array>();
    uint32_t n = u32(info[2]);
    if (b.TypedArrayType() != napi_uint8_array || q.TypedArrayType() != napi_uint32_array || n == NONE ||
        static_cast<uint64_t>(n) * 4 > q.ElementLength())
      return Napi::Number::New(env, -EINVAL);
    int r = send_batch(fd_, b.Data(), b.ByteLength(), q.Data(), n);
    if (r > 0) sent_ += static_cast<uint64_t>(r);
    if (r >= 0 && static_cast<uint32_t>(r) < n) send_drops_ += n - static_cast<uint32_t>(r);
    return Napi::Number::New(env, r);
  }

  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("received", Napi::Number::New(env, static_cast<double>(received_)));
    o.Set("sent", Napi::Number::New(env, static_cast<double>(sent_)));
    o.Set("batches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("truncated", Napi::Number::New(env, static_cast<double>(truncated_)));
    o.Set("sendDrops", Napi::Number::New(env, static_cast<double>(send_drops_)));
    return o;
  }

  Napi::Env env_ = Napi::Env(nullptr);
  int fd_ = -1;
  uint32_t port_ = 0;
  uint32_t batch_ = 64;
  uint32_t slot_ = 65536;
  bool parse_ = true;
  bool running_ = false;
  bool refd_ = false;
  uv_poll_t* poll_ = nullptr;
  uint8_t* area_ = nullptr;
  uint32_t* meta_ = nullptr;
  uint32_t* slots_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> area_ref_;
  Napi::ObjectReference meta_ref_;
  Napi::ObjectReference slots_ref_;
  Napi::FunctionReference callback_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  std::vector<sockaddr_in> from_;
  uint64_t received_ = 0, sent_ = 0, batches_ = 0, truncated_ = 0, send_drops_ = 0;
};

// sendBatchFd(fd, buf, quads, count) -> datagrams sent (or -errno). Any thread.
Napi::Value SendBatchFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1);
  if (fd < 0 || !info[1].IsTypedArray() || !info[2].IsTypedArray()) return Napi::Number::New(env, -EBADF);
  Napi::Uint8Array b = info[1].As<Napi::Uint8Array>();
  Napi::Uint32Array q = info[2].As<Napi::Uint32Array>();
  uint32_t n = u32(info[3]);
  if (b.TypedArrayType() != napi_uint8_array || q.TypedArrayType() != napi_uint32_array || n == NONE ||
      static_cast<uint64_t>(n) * 4 > q.ElementLength())
    return Napi::Number::New(env, -EINVAL);
  return Napi::Number::New(env, send_batch(fd, b.Data(), b.ByteLength(), q.Data(), n));
}

}  // namespace

void InitUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Define(env));
  exports.Set("sendBatchFd", Napi::Function::New(env, SendBatchFd, "sendBatchFd"));
}

}  // namespace sy
