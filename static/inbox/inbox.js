/*
 * The agent's live page (inbox and wallboard).
 *
 * One WebSocket per tab, /ws/agent/, brings small frames that name what changed. Each becomes an htmx
 * event on <body>; the elements listening for it ("inbox-changed from:body", "chat-<id> from:body", ...)
 * re-fetch their server-rendered partial, so the HTML is rendered on the server only. Replies and typing
 * go out over the same socket. The rest is what only the browser can do: ticking clocks, keeping the
 * transcript's scroll position, drafts, shortcuts and announcements for screen readers.
 */
(() => {
  "use strict";

  const body = document.body;
  const socketPath = body.dataset.agentSocket;
  if (!socketPath) return;

  const heartbeatMs = Number(body.dataset.heartbeat || 20) * 1000;
  // Every clock on the page counts from the server's time, whatever this computer's clock says.
  const skew = Date.parse(body.dataset.serverNow) - Date.now() || 0;
  const now = () => Date.now() + skew;
  const csrfToken = JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"];

  // When each event was last triggered, to catch the frames that arrive while a part is being fetched.
  const lastTriggered = new Map();
  const trigger = (name, detail = {}) => {
    lastTriggered.set(name, performance.now());
    htmx.trigger(body, name, detail);
  };
  const byId = (id) => document.getElementById(id);

  // ---------------------------------------------------------------------------------------------------
  // The socket: reconnects with back-off and, once connected, re-fetches everything it may have missed.

  let socket = null;
  let attempts = 0;
  let heartbeat = null;
  let leaving = false;
  const unacknowledged = new Map(); // client_id -> message frame

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let opened = false;
    socket = new WebSocket(`${scheme}//${location.host}${socketPath}`);
    socket.addEventListener("open", () => {
      opened = true;
      attempts = 0;
      showConnectionLost(false);
      heartbeat = setInterval(() => sendFrame({ type: "heartbeat" }), heartbeatMs);
      // What changed before the socket listened (since the page was rendered, or while it was away) was
      // told to nobody: fetch every part again. Parts that did not change are left as they are.
      trigger("agent-resync");
      // The server keeps one message per client id, so resending what was never acknowledged is safe.
      for (const frame of unacknowledged.values()) sendFrame(frame);
    });
    socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      clearInterval(heartbeat);
      socket = null;
      if (leaving) return;
      showConnectionLost(true);
      // Refused outright: the session may have ended. Fetching the page's parts finds out (a signed-out
      // agent is sent to the login page) and, while the server is away, says so.
      if (!opened) htmx.trigger(body, "agent-resync");
      const delay = Math.min(30000, 1000 * 2 ** attempts) * (0.5 + Math.random() / 2);
      attempts += 1;
      setTimeout(connect, delay);
    });
  }

  function sendFrame(frame) {
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function showConnectionLost(lost) {
    body.dataset.connection = lost ? "lost" : "live";
    const banner = byId("connection");
    if (banner) banner.hidden = !lost;
  }

  window.addEventListener("pagehide", () => {
    leaving = true;
  });

  // ---------------------------------------------------------------------------------------------------
  // Frames from the server

  const handlers = {
    inbox: () => trigger("inbox-changed"),
    chat: (frame) => trigger(`chat-${frame.chat_id}`),
    queue: (frame) => trigger(`queue-${frame.queue_id}`),
    presence: () => trigger("presence-changed"),
    call: (frame) => {
      trigger("call-changed");
      if (frame.state === "offered") announce("Incoming call.");
    },
    bell: () => {
      trigger("inbox-changed");
      announce("A new chat is in your inbox.");
    },
    alert: (frame) => {
      trigger(`message-${frame.chat_id}`);
      trigger("inbox-changed");
      announce(`${customerName(frame.chat_id)} has waited too long for a reply.`);
    },
    message: (frame) => {
      trigger(`message-${frame.chat_id}`);
      trigger("inbox-changed");
      if (frame.sender === "customer") {
        showTyping(frame.chat_id, false);
        announce(`${customerName(frame.chat_id)}: ${frame.text}`);
      }
    },
    typing: (frame) => showTyping(frame.chat_id, frame.typing),
    wallboard: () => refreshWallboard(),
    // The queues this agent sees changed (their profile, a queue's settings): the list, and every part
    // that may name a queue (the open chat's transfer choices), are fetched again.
    queues: () => {
      trigger("queues-changed");
      trigger("agent-resync");
    },
    ack: (frame) => settle(frame.client_id, "sent"),
    error: (frame) => (frame.client_id ? settle(frame.client_id, "failed", frame.message) : announce(frame.message)),
  };

  function receive(frame) {
    handlers[frame.type]?.(frame);
  }

  function customerName(chatId) {
    return document.querySelector(`[data-chat-id="${chatId}"][data-name]`)?.dataset.name || "A customer";
  }

  // A busy centre changes the wallboard many times a second: redraw it at most every two seconds.
  let wallboardTimer = null;
  let wallboardDue = false;
  function refreshWallboard() {
    if (wallboardTimer) {
      wallboardDue = true;
      return;
    }
    trigger("wallboard-changed");
    wallboardTimer = setTimeout(() => {
      wallboardTimer = null;
      if (wallboardDue) {
        wallboardDue = false;
        refreshWallboard();
      }
    }, 2000);
  }

  // ---------------------------------------------------------------------------------------------------
  // The customer typing

  const typingTimers = new Map();

  function showTyping(chatId, typing) {
    clearTimeout(typingTimers.get(chatId));
    typingTimers.delete(chatId);
    // A lost "stopped typing" frame must not leave the indicator on for ever.
    if (typing) typingTimers.set(chatId, setTimeout(() => showTyping(chatId, false), 6000));
    const indicator = byId(`typing-${chatId}`);
    if (indicator) indicator.hidden = !typing;
  }

  // ---------------------------------------------------------------------------------------------------
  // Replying: Enter sends, Shift+Enter breaks the line. A reply shows "Sending…" until the server
  // acknowledges it, then gives way to the stored message when the transcript is re-fetched.

  const newId = () =>
    crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

  // What the agent typed survives the re-render of the part it sits in, and a reload of the page.
  const drafts = {
    key: (field) => `inbox-draft-${field.id}`,
    save(field) {
      if (field.value) sessionStorage.setItem(this.key(field), field.value);
      else sessionStorage.removeItem(this.key(field));
    },
    restore() {
      for (const field of document.querySelectorAll("[data-draft]")) {
        const draft = sessionStorage.getItem(this.key(field));
        if (draft !== null && field.value !== draft) field.value = draft;
      }
    },
  };

  document.addEventListener("input", (event) => {
    if (event.target.matches?.("[data-draft]")) drafts.save(event.target);
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form.composer");
    if (!form) return;
    event.preventDefault();
    const box = form.elements.text;
    const text = box.value.trim();
    if (!text) return;
    const frame = { type: "message", chat_id: form.dataset.chatId, client_id: newId(), text };
    box.value = "";
    drafts.save(box);
    stopTyping(frame.chat_id);
    showPending(frame);
    deliver(frame, form.action);
  });

  function deliver(frame, fallbackUrl) {
    unacknowledged.set(frame.client_id, frame);
    if (!sendFrame(frame)) postReply(frame, fallbackUrl);
  }

  // Without the socket the reply still goes, as an ordinary request.
  async function postReply(frame, url) {
    const data = new FormData();
    data.append("client_id", frame.client_id);
    data.append("text", frame.text);
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": csrfToken, "HX-Request": "true" },
        credentials: "same-origin",
      });
    } catch {
      return; // Offline: it stays unacknowledged and goes when the socket is back.
    }
    if (response.ok) {
      settle(frame.client_id, "sent");
      trigger(`message-${frame.chat_id}`);
    } else {
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      settle(frame.client_id, "failed", page.body.textContent.trim());
    }
  }

  // Replies not yet shown as stored, kept here so that a re-rendered workspace gets them back.
  const pendingItems = new Map(); // client_id -> <li>

  function showPending(frame) {
    const item = document.createElement("li");
    item.className = "msg msg--agent msg--mine msg--pending";
    item.dataset.clientId = frame.client_id;
    item.dataset.chatId = frame.chat_id;
    item.innerHTML = '<p class="msg__meta"><span class="msg__who">You</span> <span class="msg__status">Sending…</span></p><p class="msg__text"></p>';
    item.querySelector(".msg__text").textContent = frame.text;
    pendingItems.set(frame.client_id, item);
    reconcileOutbox();
    const scroller = item.closest(".transcript");
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  function settle(clientId, outcome, reason) {
    const frame = unacknowledged.get(clientId);
    unacknowledged.delete(clientId);
    const item = pendingItems.get(clientId);
    if (!item) return;
    const status = item.querySelector(".msg__status");
    item.classList.remove("msg--pending");
    if (outcome === "sent") {
      status.textContent = "Sent";
    } else {
      item.classList.add("msg--failed");
      status.textContent = `Not sent: ${reason || "please try again."}`;
      announce(status.textContent);
      if (frame) offerRetry(item, frame);
    }
    reconcileOutbox();
  }

  function offerRetry(item, frame) {
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "button button--small";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => {
      retry.remove();
      item.classList.remove("msg--failed");
      item.classList.add("msg--pending");
      item.querySelector(".msg__status").textContent = "Sending…";
      deliver(frame, document.querySelector(`form.composer[data-chat-id="${frame.chat_id}"]`)?.action);
    });
    item.querySelector(".msg__meta").append(retry);
  }

  // A pending reply gives way to the stored message once the transcript shows it: it never shows twice.
  function reconcileOutbox() {
    for (const [clientId, item] of pendingItems) {
      if (document.querySelector(`.messages:not(.outbox) [data-client-id="${CSS.escape(clientId)}"]`)) {
        item.remove();
        pendingItems.delete(clientId);
      } else if (!item.isConnected) {
        byId(`outbox-${item.dataset.chatId}`)?.append(item);
      }
    }
  }

  // Typing: "started" at most every two seconds while keys go down, "stopped" after three quiet seconds.
  const agentTyping = new Map(); // chatId -> {sentAt, timer}

  document.addEventListener("input", (event) => {
    const box = event.target.closest?.("form.composer textarea");
    if (!box) return;
    const chatId = box.form.dataset.chatId;
    const state = agentTyping.get(chatId) || { sentAt: 0, timer: null };
    if (now() - state.sentAt > 2000) {
      sendFrame({ type: "typing", chat_id: chatId, typing: true });
      state.sentAt = now();
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(() => stopTyping(chatId), 3000);
    agentTyping.set(chatId, state);
  });

  function stopTyping(chatId) {
    const state = agentTyping.get(chatId);
    if (!state) return;
    clearTimeout(state.timer);
    agentTyping.delete(chatId);
    sendFrame({ type: "typing", chat_id: chatId, typing: false });
  }

  // A response template arrives filled in; it goes where the cursor is, to be edited before sending.
  body.addEventListener("template-filled", (event) => {
    const { chat_id: chatId, text } = event.detail;
    const box = byId(`composer-${chatId}`);
    if (!box) return;
    box.setRangeText(text, box.selectionStart, box.selectionEnd, "end");
    box.focus();
    drafts.save(box);
    const picker = byId(`templates-${chatId}`);
    if (picker) picker.value = "";
  });

  // ---------------------------------------------------------------------------------------------------
  // What the agent chose or wrote in a field that saves itself ([data-keep]: notes, classification) is
  // theirs until the server has it. A re-render of the workspace rendered before the save (an action's
  // answer, a catch-up fetch) does not take it back, and what never left the page (its field was replaced
  // before it was sent) is sent again.

  const kept = new Map(); // field id -> {value, sending, savedAt}

  function keep(field) {
    kept.set(field.id, { value: field.value, sending: false, savedAt: null });
    // A classification from the list and the agent's own words replace each other, here as on the server.
    const group = field.closest(".classification");
    if (!group || !field.value) return;
    for (const other of group.querySelectorAll("[data-keep]")) {
      if (other === field) continue;
      other.value = "";
      kept.delete(other.id);
    }
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches?.("[data-keep]")) keep(event.target);
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches?.("[data-keep]")) keep(event.target);
  });
  document.addEventListener("htmx:beforeRequest", (event) => {
    const entry = kept.get(event.detail.elt.id);
    if (entry && event.detail.elt.matches?.("[data-keep]")) entry.sending = true;
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const field = event.detail.elt;
    const entry = kept.get(field.id);
    if (!entry || !field.matches?.("[data-keep]")) return;
    entry.sending = false;
    if (!event.detail.successful) kept.delete(field.id); // refused: the notice says why
    else if (entry.value === field.value) entry.savedAt = performance.now();
  });

  function restoreKept(renderSentAt) {
    for (const [id, entry] of kept) {
      const field = byId(id);
      if (!field) continue;
      // Rendered from a request sent after the save came back: the server's value is the truth.
      if (entry.savedAt !== null && renderSentAt !== undefined && renderSentAt > entry.savedAt) {
        kept.delete(id);
        continue;
      }
      if (field.value === entry.value) continue;
      field.value = entry.value;
      if (!entry.sending && entry.savedAt === null) htmx.trigger(field, "save-now");
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // After every swap: scroll position, pending replies, drafts, the selected row, typing indicators.

  let stuckToBottom = true;
  let savedScrollTop = 0;
  let shownChat = null;

  // Where the agent is in the conversation is what they last scrolled to: read when they scroll, not when
  // a part is swapped, since by then a message just added may have moved the end away from them.
  document.addEventListener(
    "scroll",
    (event) => {
      const scroller = event.target;
      if (!scroller.classList?.contains("transcript")) return;
      stuckToBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
      savedScrollTop = scroller.scrollTop;
    },
    true,
  );

  document.addEventListener("htmx:beforeSwap", () => {
    const scroller = document.querySelector(".transcript");
    if (scroller) shownChat = scroller.dataset.chatId;
  });

  // A confirmation the agent has open stays open when the workspace around it is drawn again.
  let openDialog = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const dialog = event.detail.target.querySelector?.("dialog[open][id]");
    if (dialog) openDialog = dialog.id;
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    settlePage();
    restoreKept(event.detail.xhr?.sentAt);
    const dialog = openDialog && byId(openDialog);
    openDialog = null;
    if (dialog && !dialog.open) dialog.showModal();
  });

  // A part fetched again often comes back as it is (a frame announcing the agent's own action, a catch-up
  // fetch): then leave it alone, so that what the agent opened in it or scrolled to stays.
  const lastRendered = new Map(); // element id -> its last HTML, clocks left out
  const comparable = (html) => html.replace(/>[^<]*<\/time>/g, "></time>");

  document.addEventListener("htmx:beforeSwap", (event) => {
    const { target, serverResponse, requestConfig } = event.detail;
    if (!event.detail.shouldSwap || !target.id) return;
    const html = comparable(serverResponse);
    if (requestConfig?.verb === "get" && lastRendered.get(target.id) === html) event.detail.shouldSwap = false;
    else lastRendered.set(target.id, html);
  });

  // The conversation grows at its end: a message frame fetches only the messages after the last one shown,
  // and again the one carrying the customer's wait alert (it moves, changes colour or goes as the chat goes
  // on). What comes back replaces those it shows again and is appended.
  const seqOf = (item) => Number(item.dataset.seq);

  document.addEventListener("htmx:configRequest", (event) => {
    const list = event.detail.elt;
    if (!list.matches?.("[data-transcript]")) return;
    const shown = list.querySelectorAll(":scope > li[data-seq]");
    let after = shown.length ? seqOf(shown[shown.length - 1]) : 0;
    const alerted = list.querySelector(":scope > li[data-seq] .wait")?.closest("li");
    if (alerted) after = Math.min(after, seqOf(alerted) - 1);
    event.detail.parameters.after = after;
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const { target, serverResponse, shouldSwap } = event.detail;
    if (!shouldSwap || !target.matches?.("[data-transcript]") || event.detail.xhr.status !== 200) return;
    const seqs = [...serverResponse.matchAll(/data-seq="(\d+)"/g)].map((match) => Number(match[1]));
    if (!seqs.length) return;
    const first = Math.min(...seqs);
    for (const item of target.querySelectorAll(":scope > li")) {
      if (!item.dataset.seq || seqOf(item) >= first) item.remove();
    }
  });

  // A frame that arrived while a part was being fetched may be missing from it (the part was rendered
  // first), or found nobody listening (htmx drops what was queued on the element the swap replaced): once
  // the new part listens, fetch again what such frames named.
  document.addEventListener("htmx:beforeRequest", (event) => {
    event.detail.xhr.sentAt = performance.now();
  });
  document.addEventListener("htmx:afterSettle", (event) => {
    const sentAt = event.detail.xhr?.sentAt;
    if (sentAt === undefined) return;
    for (const [name, at] of lastTriggered) {
      if (at > sentAt) htmx.trigger(body, name);
    }
  });

  function settlePage() {
    const scroller = document.querySelector(".transcript");
    if (scroller) {
      // The agent reading back through the conversation stays where they are; otherwise follow it.
      const follow = scroller.dataset.chatId !== shownChat || stuckToBottom;
      scroller.scrollTop = follow ? scroller.scrollHeight : savedScrollTop;
      stuckToBottom = follow;
      savedScrollTop = scroller.scrollTop;
      shownChat = scroller.dataset.chatId;
    }
    reconcileOutbox();
    drafts.restore();
    markSelected();
    for (const chatId of typingTimers.keys()) {
      const indicator = byId(`typing-${chatId}`);
      if (indicator) indicator.hidden = false;
    }
    tick();
  }

  function markSelected() {
    const selected = byId("chat")?.dataset.chatId;
    for (const row of document.querySelectorAll("#inbox-list .item")) {
      const link = row.querySelector("a");
      if (row.dataset.chatId === selected) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Notices: refusals arrive as partials; what never reached the server is said here.

  function setNotice(text) {
    const area = byId("notice");
    if (!area) return;
    area.replaceChildren();
    if (!text) return;
    const notice = document.createElement("p");
    notice.className = "notice notice--error";
    notice.setAttribute("role", "alert");
    notice.textContent = text;
    area.append(notice);
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.requestConfig?.verb !== "get") setNotice("");
  });
  document.addEventListener("htmx:responseError", (event) => {
    if (event.detail.xhr.status >= 500) setNotice("Something went wrong. Please try again.");
  });
  document.addEventListener("htmx:sendError", () => setNotice("The server cannot be reached. Please try again."));

  function announce(text) {
    const region = byId("announcer");
    if (!region) return;
    const line = document.createElement("p");
    line.textContent = text;
    region.append(line);
    while (region.childElementCount > 3) region.firstElementChild.remove();
  }

  // ---------------------------------------------------------------------------------------------------
  // Clocks: time in status, customers' waits, countdowns. The browser only animates them; whether a wait
  // is overdue is the server's call, so every screen turns red together.

  const NEAR_SHARE = 0.75;

  function clock(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const rest = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
  }

  function tick() {
    const t = now();
    for (const el of document.querySelectorAll("time[data-since]")) {
      el.textContent = clock((t - Date.parse(el.dataset.since)) / 1000);
    }
    for (const el of document.querySelectorAll("time[data-until]")) {
      el.textContent = clock((Date.parse(el.dataset.until) - t) / 1000);
    }
    for (const el of document.querySelectorAll(".wait[data-since]")) {
      const seconds = (t - Date.parse(el.dataset.since)) / 1000;
      el.querySelector("time").textContent = clock(seconds);
      if (el.classList.contains("wait--ok") && seconds >= Number(el.dataset.limit) * NEAR_SHARE) {
        el.classList.replace("wait--ok", "wait--near");
        el.querySelector(".wait__label").textContent = "Reply soon";
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Keyboard: shortcuts work outside text fields; Esc leaves the message box.

  const help = byId("help");
  const openHelp = () => help?.showModal();
  for (const button of document.querySelectorAll("[data-open-help]")) button.addEventListener("click", openHelp);

  function nextChat() {
    const links = [...document.querySelectorAll("#inbox-list .item a")];
    if (!links.length) return;
    const current = links.findIndex((link) => link.hasAttribute("aria-current"));
    links[(current + 1) % links.length].click();
  }

  // A button that asks first (End chat) opens its confirmation dialog.
  document.addEventListener("click", (event) => {
    const opener = event.target.closest?.("[data-opens]");
    if (opener) byId(opener.dataset.opens)?.showModal();
    // Confirmed: the dialog goes; the answer (the wrap-up, or a refusal) shows on the page.
    event.target.closest?.("dialog [hx-post]")?.closest("dialog").close();
  });

  // Transfer waits until a queue is chosen.
  document.addEventListener("change", (event) => {
    const choice = event.target.closest?.("form.transfer select");
    if (choice) choice.form.querySelector("button").disabled = !choice.value;
  });

  const shortcuts = {
    "?": openHelp,
    n: nextChat,
    a: () => document.querySelector('#chat [data-action="activate"]')?.click(),
    p: () => document.querySelector('#chat [data-action="park"]')?.click(),
    e: () => document.querySelector('#chat [data-action="end"]')?.click(),
    r: () => document.querySelector("form.composer textarea")?.focus(),
  };

  document.addEventListener("keydown", (event) => {
    const box = event.target.closest?.("form.composer textarea");
    if (box && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      box.form.requestSubmit();
      return;
    }
    if (box && event.key === "Escape") {
      box.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const shortcut = shortcuts[event.key];
    if (!shortcut) return;
    event.preventDefault();
    shortcut();
  });

  connect();
  setInterval(tick, 1000);
  settlePage();
})();
