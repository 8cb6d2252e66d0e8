/* The header menu's groups (dashboard/shell.py nav_menu): disclosure dropdowns and the current page's group.
 *
 * A group's button toggles its aria-expanded (nav.css shows the list of an expanded group); one group is open
 * at a time. Esc, a click or tap outside, Tab out of the group or following a link close it; ↓ / ↑ / Home /
 * End move through its links (↓ on the button opens it). On phones (≤ 700 px, phone.css) the ☰ fold-out shows
 * every group as a section: the buttons are headings there, all expanded, and do not toggle.
 * window.sgNav.mark(path) is called by the shell's clientside callback on every path change: the group whose
 * data-paths hold the path gets .sg-nav-current, its link aria-current="page", the nav data-current = the
 * group's key (also returned).
 */
(function navMenu() {
  "use strict";
  const PHONE = window.matchMedia("(max-width: 700px)");  // the breakpoint of assets/phone.css

  function setOpen(button, open) {
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeAll(except) {
    if (PHONE.matches) return;
    document.querySelectorAll('.sg-nav-toggle[aria-expanded="true"]').forEach(function (button) {
      if (button !== except) setOpen(button, false);
    });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest(".sg-nav-toggle");
    if (button && !PHONE.matches) {
      closeAll(button);
      setOpen(button, button.getAttribute("aria-expanded") !== "true");
    } else if (!button) {
      closeAll(null);  // a link followed, or a click anywhere else
    }
  });

  document.addEventListener("keydown", function (event) {
    const open = document.querySelector('.sg-nav-toggle[aria-expanded="true"]');
    if (event.key === "Escape" && open && !PHONE.matches) {
      const inside = open.parentElement.contains(document.activeElement);
      setOpen(open, false);
      if (inside) open.focus();
      return;
    }
    const group = event.target.closest && event.target.closest(".sg-nav-group");
    const button = group && group.querySelector(".sg-nav-toggle");
    if (!button || PHONE.matches || ["ArrowDown", "ArrowUp", "Home", "End"].indexOf(event.key) < 0) return;
    const links = Array.from(group.querySelectorAll(".sg-nav-menu a"));
    const last = links.length - 1;
    let i = links.indexOf(event.target);
    if (event.target === button) {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      closeAll(button);
      setOpen(button, true);
      i = event.key === "ArrowUp" ? last : 0;
    } else if (i < 0) {
      return;
    } else {
      i = {ArrowDown: i === last ? 0 : i + 1, ArrowUp: i === 0 ? last : i - 1, Home: 0, End: last}[event.key];
    }
    event.preventDefault();
    links[i].focus();
  });

  // Tab (or a script) moving focus out of an open group closes it. A focus lost to nothing (Safari and iOS
  // blur on pressing a link they do not focus) is left to the click handler, or the link would vanish first.
  document.addEventListener("focusout", function (event) {
    const group = event.target.closest && event.target.closest(".sg-nav-group");
    const button = group && group.querySelector(".sg-nav-toggle");
    if (button && event.relatedTarget && !group.contains(event.relatedTarget)) setOpen(button, false);
  });

  /* The menu is HTML (dashboard/shell.py): on the first load its block may be drawn just after the callback
   * that marks it runs; then it is marked as soon as it appears. */
  let pending = null;
  function mark(pathname) {
    const path = (pathname || window.location.pathname).replace(/\/+$/, "") || "/";
    const nav = document.getElementById("shell-nav");
    if (pending) { pending.disconnect(); pending = null; }
    if (!nav) {
      pending = new MutationObserver(function () { if (document.getElementById("shell-nav")) mark(pathname); });
      pending.observe(document.body, {childList: true, subtree: true});
      return "";
    }
    let current = "";
    document.querySelectorAll(".sg-nav-group").forEach(function (group) {
      const on = (group.getAttribute("data-paths") || "").split(" ").indexOf(path) >= 0;
      group.classList.toggle("sg-nav-current", on);
      if (on) current = group.getAttribute("data-group");
    });
    document.querySelectorAll(".sg-nav a").forEach(function (link) {
      if (link.pathname === path) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    });
    nav.setAttribute("data-current", current);
    expandOnPhone();  // and closes any open group on desktop
    return current;
  }

  /* A link with data-link (the menu's, the command map panel's 办理) navigates inside the app as dcc.Link does:
   * the URL pushed, dcc.Location told, scrolled to the top. A click with a modifier key keeps the browser's
   * meaning (a new tab or window). */
  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("a[data-link]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    window.history.pushState({}, "", link.getAttribute("href"));
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    window.scrollTo(0, 0);
  });

  function expandOnPhone() {
    if (PHONE.matches) document.querySelectorAll(".sg-nav-toggle").forEach(function (b) { setOpen(b, true); });
    else closeAll(null);
  }

  PHONE.addEventListener("change", expandOnPhone);

  window.sgNav = {mark: mark};
}());
