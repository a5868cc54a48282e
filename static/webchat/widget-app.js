/*
 * The customer's chat, inside the widget's iframe (or opened on its own, e.g. in an app's webview).
 *
 * It speaks the public chat API and the chat's WebSocket (PROTOCOL.md sections 1 and 2). Every message
 * gets a client id before it is sent, is shown at once (sending), marked sent when the server acknowledges
 * it and failed (with Retry) when it does not; the server keeps one message per client id, so sending
 * again is always safe. The chat, the last sequence number seen and the messages not yet acknowledged are
 * kept in localStorage per queue token, so the chat survives a reload and a lost connection resumes with
 * exactly what was missed. All text is put in the page with textContent, never as HTML.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("widget-config").textContent);
  var SOURCE = "contactcentre-webchat";
  var STORE_KEY = "contactcentre.webchat." + config.queueToken;
  var KEPT_MESSAGES = 200;
  var ACK_TIMEOUT_MS = 10000;
  var TYPING_REPEAT_MS = 2000;
  var TYPING_IDLE_MS = 4000;
  var AGENT_TYPING_TIMEOUT_MS = 8000;
  var MAX_RECONNECT_MS = 30000;
  var CLOSE_UNAUTHORIZED = 4401;
  var CLOSE_ORIGIN_NOT_ALLOWED = 4403;

  var embedded = window.parent !== window;
  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    status: $("chat-status"),
    close: $("chat-close"),
    log: $("chat-log"),
    typing: $("chat-typing"),
    notice: $("chat-notice"),
    ended: $("chat-ended"),
    restart: $("chat-restart"),
    composer: $("chat-composer"),
    nameRow: $("chat-name-row"),
    name: $("chat-name"),
    text: $("chat-text"),
    actions: $("chat-actions"),
    end: $("chat-end"),
    confirmEnd: $("chat-end-confirm"),
    endYes: $("chat-end-yes"),
    endNo: $("chat-end-no"),
  };

  var storage = openStorage();
  var store = load();
  var elements = {};        // client_id -> <li>
  var ackTimers = {};       // client_id -> timeout id
  var socket = null;
  var reconnectTimer = null;
  var retries = 0;
  var chatState = null;     // the last `state` frame
  var isOpen = !embedded;
  var unread = 0;
  var opening = false;
  var typingSentAt = 0;
  var typingIdleTimer = null;
  var agentTypingTimer = null;

  applyColour(config.colour);
  if (embedded) ui.close.hidden = false;
  if (store.name) ui.name.value = store.name;
  if (!store.chat_id) {
    // A chat that was still being opened when the page went away: its first message was not sent.
    store.messages.forEach(function (message) {
      if (message.status === "sending") message.status = "failed";
    });
  }
  store.messages.forEach(render);
  showChat();
  // A reload opens the conversation at its newest message, as a chat app does.
  scrollToNewest();
  if (store.chat_id && !store.ended) connect();
  if (store.ended) showState({ type: "state", state: "ended" });
  tellParent({ type: "ready", colour: config.colour, title: config.title,
    open: Boolean(store.open && store.chat_id && !store.ended) });

  // ---------------------------------------------------------------------------------------------------
  // Storage

  function openStorage() {
    try {
      var probe = "contactcentre.webchat.probe";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (error) {
      return null; // Storage blocked (private mode, third-party rules): the chat works for this page only.
    }
  }

  function load() {
    var saved = null;
    try {
      saved = storage && JSON.parse(storage.getItem(STORE_KEY));
    } catch (error) {
      saved = null;
    }
    saved = saved && typeof saved === "object" ? saved : {};
    saved.messages = Array.isArray(saved.messages) ? saved.messages : [];
    saved.last_seq = saved.last_seq || 0;
    saved.visitor_id = saved.visitor_id || newId();
    return saved;
  }

  function save() {
    var sent = store.messages.filter(function (m) { return m.status === "sent"; });
    var drop = Math.max(0, sent.length - KEPT_MESSAGES);
    if (drop) {
      var dropped = sent.slice(0, drop);
      store.messages = store.messages.filter(function (m) { return dropped.indexOf(m) === -1; });
    }
    try {
      if (storage) storage.setItem(STORE_KEY, JSON.stringify(store));
    } catch (error) {
      // Full storage: the chat goes on; only a reload would lose what was not saved.
    }
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); });
    return [hex.slice(0, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10), hex.slice(10)]
      .map(function (part) { return part.join(""); }).join("-");
  }

  // ---------------------------------------------------------------------------------------------------
  // The conversation

  function findMessage(clientId) {
    for (var i = 0; i < store.messages.length; i++) {
      if (store.messages[i].client_id === clientId) return store.messages[i];
    }
    return null;
  }

  function ordered() {
    // Stored messages by seq; those still on their way after them, in the order they were typed.
    return store.messages.slice().sort(function (a, b) {
      if (a.seq && b.seq) return a.seq - b.seq;
      if (a.seq) return -1;
      if (b.seq) return 1;
      return a.typed_at - b.typed_at;
    });
  }

  // The highest seq up to which every message is here: what hello asks after, so that a message that
  // arrived out of order, or not at all, is fetched again on reconnect.
  function contiguousSeq() {
    var seen = {};
    store.messages.forEach(function (m) {
      if (m.seq) seen[m.seq] = true;
    });
    var seq = store.last_seq;
    while (seen[seq + 1]) seq += 1;
    return seq;
  }

  function receiveMessage(frame) {
    var message = findMessage(frame.client_id);
    var isNew = !message;
    if (isNew) {
      message = { client_id: frame.client_id, typed_at: Date.now() };
      store.messages.push(message);
    }
    message.seq = frame.seq;
    message.sender = frame.sender;
    message.agent_name = frame.agent_name || "";
    message.text = frame.text;
    message.sent_at = frame.sent_at;
    message.status = "sent";
    message.error = "";
    clearAck(message.client_id);
    store.last_seq = contiguousSeq();
    save();
    render(message);
    if (frame.sender === "agent") hideAgentTyping();
    if (isNew && frame.sender !== "customer" && !isOpen) {
      unread += 1;
      tellParent({ type: "unread", count: unread });
    }
  }

  function render(message) {
    var item = elements[message.client_id];
    if (!item) {
      item = document.createElement("li");
      item.appendChild(document.createElement("div")).className = "msg__meta";
      item.appendChild(document.createElement("p")).className = "msg__text";
      item.appendChild(document.createElement("div")).className = "msg__state";
      elements[message.client_id] = item;
    }
    item.className = "msg msg--" + (message.sender || "customer");
    item.setAttribute("data-status", message.status);

    var meta = item.children[0];
    meta.textContent = "";
    if (message.sender !== "system") {
      var who = meta.appendChild(document.createElement("span"));
      who.className = "msg__who";
      who.textContent = message.sender === "agent" ? (message.agent_name || "Agent") : "You";
      if (message.sent_at) {
        var time = meta.appendChild(document.createElement("time"));
        time.dateTime = message.sent_at;
        time.textContent = new Date(message.sent_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      }
    }
    item.children[1].textContent = message.text;

    var state = item.children[2];
    state.textContent = "";
    if (message.sender === "customer" || !message.sender) {
      if (message.status === "failed") {
        state.appendChild(document.createTextNode(message.error || "Not sent."));
        var retry = state.appendChild(document.createElement("button"));
        retry.type = "button";
        retry.className = "msg__retry";
        retry.textContent = "Retry";
        retry.addEventListener("click", function () { resend(message); });
      } else {
        state.textContent = message.status === "sent" ? "Sent" : "Sending…";
      }
    }
    place(item, message);
  }

  function place(item, message) {
    var list = ordered();
    var next = null;
    for (var i = list.indexOf(message) + 1; i < list.length && !next; i++) {
      next = elements[list[i].client_id] || null;
    }
    if (item.parentNode !== ui.log || item.nextSibling !== next) {
      var atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
      ui.log.insertBefore(item, next);
      if (atBottom || message.sender === "customer") ui.log.scrollTop = ui.log.scrollHeight;
    }
  }

  function scrollToNewest() {
    // Instantly, not smoothly: the customer should land on the newest message, not watch the way there.
    ui.log.scrollTo({ top: ui.log.scrollHeight, behavior: "instant" });
  }

  // ---------------------------------------------------------------------------------------------------
  // Sending

  ui.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });

  ui.text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });

  ui.text.addEventListener("input", function () {
    autosize();
    if (!ui.text.value.trim()) return stopTyping();
    var now = Date.now();
    if (now - typingSentAt > TYPING_REPEAT_MS && sendFrame({ type: "typing", typing: true })) typingSentAt = now;
    clearTimeout(typingIdleTimer);
    typingIdleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  });

  function send() {
    var text = ui.text.value.trim();
    if (!text || opening || store.ended) return;
    var message = { client_id: newId(), sender: "customer", text: text, status: "sending", typed_at: Date.now() };
    ui.text.value = "";
    autosize();
    stopTyping();
    hideNotice();
    store.messages.push(message);
    save();
    render(message);
    if (store.chat_id) transmit(message);
    else openChat(message);
  }

  function transmit(message) {
    if (!sendFrame({ type: "message", client_id: message.client_id, text: message.text })) return;
    clearAck(message.client_id);
    ackTimers[message.client_id] = setTimeout(function () {
      fail(message, "Not sent.");
    }, ACK_TIMEOUT_MS);
  }

  function resend(message) {
    message.status = "sending";
    message.error = "";
    save();
    render(message);
    if (store.chat_id) transmit(message);
    else openChat(message);
  }

  function fail(message, reason) {
    clearAck(message.client_id);
    if (message.status === "sent") return;
    message.status = "failed";
    message.error = reason;
    save();
    render(message);
  }

  function clearAck(clientId) {
    clearTimeout(ackTimers[clientId]);
    delete ackTimers[clientId];
  }

  function sendPending() {
    store.messages.forEach(function (message) {
      if (message.status === "sending") transmit(message);
    });
  }

  function stopTyping() {
    clearTimeout(typingIdleTimer);
    if (typingSentAt) sendFrame({ type: "typing", typing: false });
    typingSentAt = 0;
  }

  // ---------------------------------------------------------------------------------------------------
  // Opening and ending the chat (the REST API)

  function openChat(message) {
    opening = true;
    store.name = ui.name.value.trim();
    api("POST", "/chats", {
      queue_token: config.queueToken,
      name: store.name,
      message: message.text,
      client_id: message.client_id,
      visitor_id: store.visitor_id,
    }).then(function (answer) {
      opening = false;
      if (answer.status !== 201) {
        // Refused (queue full, no agents, unknown queue, too many chats): the text goes back to the box.
        forgetMessage(message);
        if (!ui.text.value) ui.text.value = message.text;
        autosize();
        showNotice(errorText(answer.body));
        return;
      }
      store.chat_id = answer.body.chat_id;
      store.customer_token = answer.body.customer_token;
      store.ended = false;
      store.open = isOpen;
      message.status = "sent";
      save();
      render(message);
      showChat();
      showState({ type: "state", state: answer.body.state });
      connect();
    }, function () {
      opening = false;
      fail(message, "Could not reach us. Check your connection.");
    });
  }

  // Ending cannot be undone, so End chat asks first; the question keeps focus until it is answered.
  ui.end.addEventListener("click", function () {
    if (!store.chat_id) return;
    ui.end.hidden = true;
    ui.end.setAttribute("aria-expanded", "true");
    ui.confirmEnd.hidden = false;
    ui.endNo.focus();
  });

  ui.endNo.addEventListener("click", function () { closeEndConfirmation(true); });

  ui.confirmEnd.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    // Escape answers the question; it does not close the whole chat window.
    event.stopPropagation();
    closeEndConfirmation(true);
  });

  ui.endYes.addEventListener("click", function () {
    closeEndConfirmation(false);
    endChat();
  });

  function closeEndConfirmation(refocus) {
    ui.confirmEnd.hidden = true;
    ui.end.hidden = false;
    ui.end.setAttribute("aria-expanded", "false");
    if (refocus) ui.end.focus();
  }

  function endChat() {
    if (!store.chat_id) return;
    if (sendFrame({ type: "end" })) return;
    api("POST", "/chats/" + store.chat_id + "/end").then(function (answer) {
      if (answer.status === 200) showState({ type: "state", state: answer.body.state });
      else showNotice(errorText(answer.body));
    }, function () {
      showNotice("Could not reach us to end the chat. Check your connection and try again.");
    });
  }

  ui.restart.addEventListener("click", function () {
    resetChat();
    hideNotice();
    ui.text.focus();
  });

  function resetChat() {
    disconnect();
    store = { visitor_id: store.visitor_id, name: store.name, messages: [], last_seq: 0, open: isOpen };
    save();
    Object.keys(elements).forEach(function (id) { ui.log.removeChild(elements[id]); });
    elements = {};
    chatState = null;
    showChat();
  }

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (store.customer_token) headers.Authorization = "Bearer " + store.customer_token;
    return fetch(config.apiBase + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        return { status: response.status, body: json };
      });
    });
  }

  function errorText(body) {
    return (body && body.error && body.error.message) || "Something went wrong. Please try again.";
  }

  function forgetMessage(message) {
    store.messages = store.messages.filter(function (m) { return m !== message; });
    save();
    var item = elements[message.client_id];
    if (item) ui.log.removeChild(item);
    delete elements[message.client_id];
  }

  // ---------------------------------------------------------------------------------------------------
  // The chat's WebSocket

  function connect() {
    clearTimeout(reconnectTimer);
    if (socket || !store.chat_id || store.ended) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + window.location.host + "/ws/webchat/" + store.chat_id + "/");
    socket = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", customer_token: store.customer_token, after_seq: store.last_seq }));
      // Frames are handled in order, so these follow the hello; the server keeps one per client id.
      sendPending();
    };
    ws.onmessage = function (event) {
      var frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      handle(frame);
    };
    ws.onclose = function (event) {
      if (socket !== ws) return;
      socket = null;
      Object.keys(ackTimers).forEach(clearAck);
      hideAgentTyping();
      if (event.code === CLOSE_UNAUTHORIZED) {
        forgetChat("This chat can no longer be continued. Send a message to start a new one.");
      } else if (event.code === CLOSE_ORIGIN_NOT_ALLOWED) {
        showNotice("This chat is not available on this web site.");
      } else if (!store.ended) {
        showNotice("Connection lost. Reconnecting…", true);
        var delay = Math.min(MAX_RECONNECT_MS, 1000 * Math.pow(2, retries));
        retries += 1;
        reconnectTimer = setTimeout(connect, delay / 2 + Math.random() * delay / 2);
      }
    };
  }

  function disconnect() {
    clearTimeout(reconnectTimer);
    var ws = socket;
    socket = null;
    if (ws) ws.close(1000);
  }

  function sendFrame(frame) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function handle(frame) {
    if (frame.type === "message") {
      receiveMessage(frame);
    } else if (frame.type === "ack") {
      var message = findMessage(frame.client_id);
      if (message && message.status !== "sent") {
        message.seq = message.seq || frame.seq;
        message.status = "sent";
        clearAck(message.client_id);
        save();
        render(message);
      }
    } else if (frame.type === "state") {
      retries = 0;
      hideNotice(true);
      showState(frame);
    } else if (frame.type === "typing" && frame.sender === "agent") {
      if (frame.typing) showAgentTyping();
      else hideAgentTyping();
    } else if (frame.type === "error") {
      var refused = frame.client_id && findMessage(frame.client_id);
      if (refused) fail(refused, frame.message);
      else showNotice(frame.message);
    }
  }

  window.addEventListener("online", function () {
    if (!socket) connect();
  });

  // ---------------------------------------------------------------------------------------------------
  // What the customer sees

  function showState(frame) {
    chatState = frame;
    if (frame.state === "queued") {
      setStatus(frame.position ? "You're number " + frame.position + " in the queue" : "Waiting for an agent");
    } else if (frame.state === "connected" && frame.agent_joined === false) {
      // The chat waits in the agent's inbox: they have not opened it yet.
      setStatus((frame.agent_name || "An agent") + " will be with you shortly");
    } else if (frame.state === "connected") {
      setStatus(frame.agent_name ? "You're chatting with " + frame.agent_name : "You're connected");
    } else if (frame.state === "ended") {
      setStatus("The chat has ended");
      store.ended = true;
      save();
      hideAgentTyping();
      store.messages.forEach(function (message) {
        if (message.status === "sending") fail(message, "The chat has ended.");
      });
    }
    showChat();
  }

  function showChat() {
    var hasChat = Boolean(store.chat_id);
    ui.nameRow.hidden = hasChat;
    ui.actions.hidden = !hasChat || Boolean(store.ended);
    if (ui.actions.hidden) closeEndConfirmation(false);
    ui.ended.hidden = !store.ended;
    ui.composer.hidden = Boolean(store.ended);
    if (!hasChat) setStatus("Send a message to start the chat");
  }

  function setStatus(text) {
    if (ui.status.textContent !== text) ui.status.textContent = text;
  }

  function showAgentTyping() {
    var name = chatState && chatState.agent_name;
    ui.typing.textContent = (name || "The agent") + " is typing...";
    ui.typing.hidden = false;
    clearTimeout(agentTypingTimer);
    agentTypingTimer = setTimeout(hideAgentTyping, AGENT_TYPING_TIMEOUT_MS);
  }

  function hideAgentTyping() {
    clearTimeout(agentTypingTimer);
    ui.typing.hidden = true;
  }

  function showNotice(text, isConnection) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    ui.notice.setAttribute("data-connection", isConnection ? "true" : "false");
  }

  function hideNotice(onlyConnection) {
    if (onlyConnection && ui.notice.getAttribute("data-connection") !== "true") return;
    ui.notice.hidden = true;
    ui.notice.textContent = "";
  }

  function forgetChat(reason) {
    var unsent = store.messages.filter(function (m) { return m.status !== "sent"; });
    resetChat();
    // Nothing typed is lost: what was not sent goes back into the message box.
    if (!ui.text.value) ui.text.value = unsent.map(function (m) { return m.text; }).join("\n");
    autosize();
    showNotice(reason);
  }

  function autosize() {
    ui.text.style.height = "auto";
    ui.text.style.height = Math.min(ui.text.scrollHeight, 140) + "px";
  }

  function applyColour(colour) {
    if (!/^#[0-9a-fA-F]{6}$/.test(colour || "")) return;
    var root = document.documentElement.style;
    root.setProperty("--accent", colour);
    var channels = [1, 3, 5].map(function (i) {
      var c = parseInt(colour.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    root.setProperty("--on-accent", luminance > 0.4 ? "#111827" : "#ffffff");
  }

  // ---------------------------------------------------------------------------------------------------
  // The page around the widget (widget.js)

  function tellParent(data) {
    data.source = SOURCE;
    // Only colours, titles and counts go to the page, so any embedding page may hear them.
    if (embedded) window.parent.postMessage(data, "*");
  }

  ui.close.addEventListener("click", function () { tellParent({ type: "close" }); });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && embedded) tellParent({ type: "close" });
  });

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== window.parent || !data || data.source !== SOURCE) return;
    if (data.type === "opened") {
      isOpen = true;
      unread = 0;
      tellParent({ type: "unread", count: 0 });
      scrollToNewest();
      ui.text.focus();
    } else if (data.type === "closed") {
      isOpen = false;
    } else {
      return;
    }
    store.open = isOpen;
    save();
  });
})();
