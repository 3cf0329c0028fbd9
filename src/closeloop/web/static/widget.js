/*
 * closeloop in-app feedback widget. No dependencies; ASCII only, so any host page charset works.
 *
 *   <script src="https://feedback.example.com/static/widget.js"
 *           data-survey="post-purchase-nps" data-lang="zh" async></script>
 *
 * data-survey  the survey id (required)
 * data-lang    zh | en (optional; default: the page's <html lang>, else the survey's default)
 * data-label   the button text (optional; default: Chinese "fankui" then "Feedback")
 * data-position  right | left (optional; default right)
 *
 * Adds a floating button that opens a panel with the survey in an iframe. The survey is only loaded when
 * the panel is first opened, so page views that never open it start no response.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.getAttribute("data-survey")) {
    if (window.console) { console.warn("closeloop widget: add data-survey=\"<survey id>\" to the script tag"); }
    return;
  }
  var survey = script.getAttribute("data-survey");
  var origin = new URL(script.src, window.location.href).origin;
  var pageLang = (document.documentElement.getAttribute("lang") || "").toLowerCase();
  var lang = script.getAttribute("data-lang") || (pageLang.indexOf("en") === 0 ? "en" : pageLang.indexOf("zh") === 0 ? "zh" : "");
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";
  var label = script.getAttribute("data-label") || "\u53cd\u9988 Feedback";

  function surveyUrl() {
    var url = origin + "/s/" + encodeURIComponent(survey) + "?embed=1";
    return lang ? url + "&lang=" + encodeURIComponent(lang) : url;
  }

  function style(element, rules) {
    for (var name in rules) { if (Object.prototype.hasOwnProperty.call(rules, name)) { element.style[name] = rules[name]; } }
  }

  function build() {
    var button = document.createElement("button");
    button.type = "button";
    button.id = "closeloop-feedback-button";
    button.textContent = label;
    button.setAttribute("aria-expanded", "false");
    style(button, {
      position: "fixed", bottom: "20px", zIndex: "2147483000", padding: "12px 18px", border: "0",
      borderRadius: "24px", background: "#12355b", color: "#fff", font: "600 15px system-ui, sans-serif",
      boxShadow: "0 2px 8px rgba(0,0,0,.25)", cursor: "pointer"
    });
    button.style[side] = "20px";

    var panel = document.createElement("div");
    panel.id = "closeloop-feedback-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", label);
    style(panel, {
      position: "fixed", bottom: "76px", zIndex: "2147483000", width: "min(380px, calc(100vw - 24px))",
      height: "min(560px, calc(100vh - 100px))", background: "#fff", borderRadius: "12px",
      boxShadow: "0 4px 24px rgba(0,0,0,.3)", overflow: "hidden", display: "none"
    });
    panel.style[side] = "12px";

    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "\u5173\u95ed Close");
    style(close, {
      position: "absolute", top: "4px", right: "6px", border: "0", background: "transparent",
      font: "24px system-ui, sans-serif", cursor: "pointer", color: "#52606d"
    });

    var frame = null;
    function toggle(open) {
      if (open && !frame) {
        frame = document.createElement("iframe");
        frame.id = "closeloop-feedback-frame";
        frame.title = label;
        frame.src = surveyUrl();
        style(frame, { width: "100%", height: "100%", border: "0" });
        panel.insertBefore(frame, close);
      }
      panel.style.display = open ? "block" : "none";
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () { toggle(panel.style.display === "none"); });
    close.addEventListener("click", function () { toggle(false); });

    panel.appendChild(close);
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }

  if (document.body) { build(); } else { document.addEventListener("DOMContentLoaded", build); }
})();
