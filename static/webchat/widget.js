/*
 * The webchat snippet's script (PROTOCOL.md section 3):
 *   <script src="https://HOST/static/webchat/widget.js" data-queue-token="..." async></script>
 *
 * It adds a round launcher button at the bottom right and a panel holding the chat page that the product
 * serves at /webchat/w/<queue token>/. The chat itself (and everything the customer types) lives in that
 * page, on the product's origin; this script only places it. The launcher appears once the chat page
 * says it is ready, with the queue's colour and title, so a switched-off queue shows nothing.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var token = script && script.getAttribute("data-queue-token");
  if (!token) return;

  var SOURCE = "contactcentre-webchat";
  var origin = new URL(script.src, window.location.href).origin;
  var phone = window.matchMedia("(max-width: 480px)");
  var isOpen = false;
  var layer = "2147483000";

  var frame = document.createElement("iframe");
  frame.src = origin + "/webchat/w/" + encodeURIComponent(token) + "/";
  frame.title = "Chat";
  frame.id = "contactcentre-webchat-" + Math.random().toString(36).slice(2);
  setStyles(frame, {
    position: "fixed",
    zIndex: layer,
    border: "0",
    background: "#fff",
    colorScheme: "normal",
    boxShadow: "0 12px 48px rgba(15, 23, 42, 0.28)",
    display: "none",
  });

  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-label", "Chat with us");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", frame.id);
  setStyles(button, {
    position: "fixed",
    right: "20px",
    bottom: "20px",
    zIndex: layer,
    width: "60px",
    height: "60px",
    padding: "0",
    border: "0",
    borderRadius: "50%",
    background: "#2563eb",
    color: "#fff",
    cursor: "pointer",
    boxShadow: "0 6px 24px rgba(15, 23, 42, 0.3)",
    display: "none",
    alignItems: "center",
    justifyContent: "center",
  });
  button.appendChild(icon());

  var badge = document.createElement("span");
  setStyles(badge, {
    position: "absolute",
    top: "-2px",
    right: "-2px",
    minWidth: "20px",
    height: "20px",
    padding: "0 5px",
    borderRadius: "10px",
    background: "#dc2626",
    color: "#fff",
    font: "600 12px/20px system-ui, sans-serif",
    boxSizing: "border-box",
    display: "none",
  });
  button.appendChild(badge);

  button.addEventListener("click", function () {
    setOpen(!isOpen);
  });
  phone.addEventListener("change", layout);

  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.source !== frame.contentWindow || event.origin !== origin) return;
    if (!data || data.source !== SOURCE) return;
    if (data.type === "ready") {
      if (/^#[0-9a-fA-F]{6}$/.test(data.colour || "")) {
        button.style.background = data.colour;
        button.style.color = readableOn(data.colour);
      }
      if (data.title) {
        button.setAttribute("aria-label", String(data.title));
        frame.title = String(data.title);
      }
      button.style.display = "flex";
      layout();
      if (data.open) setOpen(true);
    } else if (data.type === "close") {
      setOpen(false);
      button.focus();
    } else if (data.type === "unread") {
      var count = Number(data.count) || 0;
      badge.textContent = count > 9 ? "9+" : String(count);
      badge.style.display = count > 0 && !isOpen ? "block" : "none";
      button.setAttribute("aria-label", (frame.title || "Chat") + (count > 0 ? " (" + count + " new)" : ""));
    }
  });

  function setOpen(open) {
    isOpen = open;
    button.setAttribute("aria-expanded", String(open));
    if (open) badge.style.display = "none";
    layout();
    frame.contentWindow.postMessage({ source: SOURCE, type: open ? "opened" : "closed" }, origin);
  }

  function layout() {
    frame.style.display = isOpen ? "block" : "none";
    if (phone.matches) {
      // A full-screen panel on a phone; its own close button brings the launcher back.
      setStyles(frame, { top: "0", left: "0", right: "auto", bottom: "auto",
        width: "100%", height: "100%", borderRadius: "0" });
      button.style.visibility = isOpen ? "hidden" : "visible";
    } else {
      setStyles(frame, { top: "auto", left: "auto", right: "20px", bottom: "92px",
        width: "380px", height: "min(640px, calc(100vh - 112px))", borderRadius: "16px" });
      button.style.visibility = "visible";
    }
  }

  function icon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1L4.3 21l4-2c1.2.3 2.4.5 3.7.5 " +
      "5.5 0 10-3.8 10-8.5S17.5 3 12 3zm-4 9.7a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 " +
      "1.2 1.2 0 010 2.4zm4 0a1.2 1.2 0 110-2.4 1.2 1.2 0 010 2.4z");
    svg.appendChild(path);
    return svg;
  }

  function readableOn(hex) {
    var channels = [1, 3, 5].map(function (i) {
      var c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return luminance > 0.4 ? "#111827" : "#ffffff";
  }

  function setStyles(element, styles) {
    for (var name in styles) element.style[name] = styles[name];
  }

  function mount() {
    document.body.appendChild(frame);
    document.body.appendChild(button);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
