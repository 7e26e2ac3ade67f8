"""The partner dashboard and the admin reports in headless Chromium, as people use them.

A partner signs in, onboards a client, provisions and sees the balance drop and the ledger
row appear, bulk-onboards 3 clients from CSV, and reads clear messages on 402 and on hold;
it reads its runway and a chart of credits added and spent, sets alerts and auto top-up;
an admin tops the partner up (a double click credits once) and the partner sees it; a
partner who opens the admin page sees none of its data. Every control has a label, and the
pages fit a 375 px screen. Screenshots of each page are written for people to look at.

usage: pages.py <dev server base URL> <screenshot directory>
"""

from datetime import datetime, timedelta
import json
import sys
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, SHOTS = sys.argv[1], sys.argv[2]
DASHBOARD, REPORTS = "/partner/dashboard", "/admin/reports"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1


def api(method, path, token, body=None, key=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data, headers, method=method)
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def token(user, admin=False):
    request = urllib.request.Request(
        BASE + "/_local/sign-in",
        json.dumps({"user_id": user, "admin": admin}).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)["token"]


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(argument)
    # The console, read for errors (a 404 of a favicon or of a missing rule is one).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver, condition, what, seconds=10):
    try:
        # A page that reloads (after signing in) leaves stale elements behind for a moment.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(driver, seconds, ignored_exceptions=ignored).until(lambda d: condition(d))
    except Exception as error:
        raise AssertionError(f"waited {seconds} s for {what}; page says: {driver.find_element(By.TAG_NAME, 'main').text[:600]}") from error


def text(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector).text


def ready(driver):
    # Read in the page itself: an element handle of a body that a reload replaced mid-call
    # makes Chrome answer "Node with given id does not belong to the document".
    wait_for(driver, lambda d: d.execute_script("return document.body && document.body.dataset.ready") == "true",
             "the page to load")


def sign_in(driver, page, user, admin=False):
    driver.get(BASE + page)
    form = wait_for(driver, lambda d: d.find_element(By.ID, "local-signin").is_displayed() and d.find_element(By.ID, "local-signin"), "the sign-in form")
    form.find_element(By.NAME, "user").send_keys(user)
    box = form.find_element(By.NAME, "admin")
    # The admin reports' sign-in starts as an administrator; the dashboard's as a partner.
    check(box.is_selected() == page.startswith(REPORTS), f"the sign-in of {page} starts as {box.is_selected()}")
    if box.is_selected() != admin:
        box.click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def console_errors(driver):
    """The errors the page's console showed since the last look."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def unlabelled(driver):
    return driver.execute_script(
        """return [...document.querySelectorAll('input, select, textarea, button')]
             .filter(e => e.offsetParent !== null)
             .filter(e => e.tagName === 'BUTTON' ? !e.textContent.trim() : e.labels.length === 0 && !e.getAttribute('aria-label'))
             .map(e => e.outerHTML)"""
    )


def fits(driver, width):
    driver.set_window_size(width, 900)
    return driver.execute_script("return document.documentElement.scrollWidth") <= width


def screenshot(driver, name):
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    driver.set_window_size(1280, 1000)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(height + 100, 4000))
    driver.save_screenshot(f"{SHOTS}/{name}.png")
    driver.set_window_size(375, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(375, min(height + 100, 6000))
    driver.save_screenshot(f"{SHOTS}/{name}-375px.png")
    driver.set_window_size(1280, 1000)


def main():
    admin = token("ops-admin", admin=True)
    created = api("POST", "/resellers", admin, {
        "company": "Northwind", "user_id": "partner-1", "tier": "gold", "email": "partner-1@partners.example",
        "metadata": {"company_name": "Northwind Partners", "primary_color": "#0a7d4f"},
    })
    refid = created["refid"]
    api("POST", f"/resellers/{refid}/credits", admin, {"amount": 5000}, key="opening")
    child = api("POST", "/resellers", admin, {"company": "Contoso", "user_id": "partner-2", "parent_refid": refid})
    child_refid = child["refid"]

    partner = browser()
    admin_page = browser()
    try:
        # The partner signs in and sees its wallet in its own skin.
        sign_in(partner, DASHBOARD, "partner-1")
        ready(partner)
        check(text(partner, "#company") == "Northwind Partners", "the skin's company name")
        brand = partner.execute_script("return getComputedStyle(document.querySelector('.bar')).borderBottomColor")
        check(brand == "rgb(10, 125, 79)", f"the skin's primary colour, got {brand}")
        check(text(partner, "#balance") == "5,000 credits", "the opening balance")
        check(text(partner, "#tier") == "gold" and "15 %" in text(partner, "#discount"), "tier and discount")
        buy = partner.find_element(By.ID, "buy-credits").get_attribute("href")
        check(buy.startswith("https://buy.stripe.com/test_ally_credits?") and f"client_reference_id={refid}" in buy
              and "prefilled_email=partner-1%40partners.example" in buy, f"Buy credits opens the Payment Link for this partner: {buy}")
        check(unlabelled(partner) == [], f"every control is labelled: {unlabelled(partner)}")
        check(console_errors(partner) == [], f"a clean console: {console_errors(partner)}")
        product = Select(partner.find_element(By.ID, "product")).first_selected_option.get_attribute("value")
        check(product == "license-basic", f"a real product is chosen first: {product}")
        check(not partner.find_element(By.CSS_SELECTOR, "#provision input[name=cost]").is_displayed(), "no custom price unless asked")
        sections = [a.text for a in partner.find_elements(By.CSS_SELECTOR, "#sections a")]
        check(sections == ["Wallet and buying", "Clients and services", "Network", "Settings"], f"the sections: {sections}")
        check("No sub-reseller yet" in text(partner, "#sub-resellers") or "Contoso" in text(partner, "#sub-resellers"),
              f"an empty state or the child: {text(partner, '#sub-resellers')}")

        # Onboard a client.
        onboard = partner.find_element(By.ID, "onboard")
        onboard.find_element(By.NAME, "name").send_keys("Tailspin Toys")
        onboard.find_element(By.NAME, "email").send_keys("it@tailspin.example")
        onboard.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(partner, lambda d: "Tailspin Toys" in text(d, "#clients"), "the new client in the list")

        # Provision for it: the tier price before confirming, then the balance and the ledger.
        Select(partner.find_element(By.ID, "product")).select_by_value("license-basic")
        Select(partner.find_element(By.ID, "provision-client")).select_by_visible_text("Tailspin Toys")
        partner.find_element(By.CSS_SELECTOR, "#provision button[type=submit]").click()
        check(unlabelled(partner) == [], f"the review is labelled: {unlabelled(partner)}")
        summary = text(partner, "#provision-summary")
        check("850 credits" in summary and "base 1,000" in summary and "Tailspin Toys" in summary, f"the price shown: {summary}")
        partner.find_element(By.ID, "provision-confirm").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "balance").text == "4,150 credits", "the balance to drop by 850")
        first_row = wait_for(partner, lambda d: "-850" in text(d, "#ledger tr") and text(d, "#ledger tr"), "the ledger row")
        check("Spent" in first_row and "4,150" in first_row and "debit" not in first_row, f"the ledger row, in words: {first_row}")

        # A hold reserves without charging; voided, it gives everything back.
        Select(partner.find_element(By.ID, "hold-product")).select_by_value("license-basic")
        partner.find_element(By.CSS_SELECTOR, "#hold button[type=submit]").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "held").text == "850 credits", "the reserve")
        check(text(partner, "#available") == "3,300 credits" and text(partner, "#balance") == "4,150 credits",
              f"reserved, not charged: {text(partner, '#available')}, {text(partner, '#balance')}")
        check(unlabelled(partner) == [], f"the holds are labelled: {unlabelled(partner)}")
        partner.find_element(By.CSS_SELECTOR, "#holds button[data-void]").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "held").text == "0 credits", "the void")
        check("No active hold" in text(partner, "#holds") and text(partner, "#available") == "4,150 credits",
              "no active hold left, all available again")

        # Bulk: 3 clients from CSV, the total shown first.
        partner.find_element(By.ID, "bulk-csv").send_keys("name,email\nAlpha Co,a@alpha.example\n\"Beta, Inc\",\nGamma Ltd,g@gamma.example\n")
        Select(partner.find_element(By.ID, "bulk-product")).select_by_value("")
        partner.find_element(By.CSS_SELECTOR, "#bulk input[name=cost]").send_keys("100")
        partner.find_element(By.CSS_SELECTOR, "#bulk button[type=submit]").click()
        summary = text(partner, "#bulk-summary")
        check("3 clients" in summary and "255 credits in all" in summary, f"the bulk total: {summary}")
        partner.find_element(By.ID, "bulk-confirm").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "balance").text == "3,895 credits", "the bulk charge")
        wait_for(partner, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#clients tr")) == 4, "4 clients listed")
        check("Beta, Inc" in text(partner, "#clients"), "a quoted CSV name with a comma")

        # Clear refusals: not enough credits, then provisioning on hold.
        Select(partner.find_element(By.ID, "product")).select_by_value("")
        partner.find_element(By.CSS_SELECTOR, "#provision input[name=cost]").send_keys("90000")
        partner.find_element(By.CSS_SELECTOR, "#provision button[type=submit]").click()
        partner.find_element(By.ID, "provision-confirm").click()
        wait_for(partner, lambda d: "Not enough credits" in text(d, "#provision-message"), "the 402 message")
        api("PATCH", f"/resellers/{refid}", admin, {"hold_provisioning": True})
        partner.find_element(By.CSS_SELECTOR, "#provision input[name=cost]").clear()
        partner.find_element(By.CSS_SELECTOR, "#provision input[name=cost]").send_keys("10")
        partner.find_element(By.CSS_SELECTOR, "#provision button[type=submit]").click()
        partner.find_element(By.ID, "provision-confirm").click()
        wait_for(partner, lambda d: "on hold" in text(d, "#provision-message"), "the hold message")
        api("PATCH", f"/resellers/{refid}", admin, {"hold_provisioning": False})
        balance = api("GET", "/resellers/me", token("partner-1"))["balance"]
        check(balance == 3895, f"refusals charged nothing: {balance}")

        # The runway and the chart of credits added and spent, side by side, per day.
        partner.refresh()
        ready(partner)
        runway = text(partner, "#runway")
        check("about 105 days" in runway, f"3,895 at 1,105 spent in 30 days lasts 105 days: {runway}")
        added = partner.find_elements(By.CSS_SELECTOR, "#trend-chart rect.series-0")
        spent = partner.find_elements(By.CSS_SELECTOR, "#trend-chart rect.series-1")
        check(len(added) == len(spent) == 30, f"two bars for each of 30 days: {len(added)}, {len(spent)}")
        today = spent[-1].find_element(By.TAG_NAME, "title").get_attribute("textContent")
        check(today.endswith("spent: 1,105"), f"today's spend: {today}")
        chart = text(partner, "#trend-chart")
        check("added 5,000" in chart and "spent 1,105" in chart and "Added" in chart, f"the summary and legend: {chart}")

        # Alerts: levels and a runway saved; a malformed level is refused and changes nothing.
        alerts = partner.find_element(By.ID, "alerts")
        check(alerts.find_element(By.NAME, "thresholds").get_attribute("value") == "500", "the network's threshold first")
        alerts.find_element(By.NAME, "thresholds").clear()
        alerts.find_element(By.NAME, "thresholds").send_keys("2000, five hundred")
        alerts.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(partner, lambda d: "whole numbers" in text(d, "#alerts-message"), "the malformed level refused")
        check(api("GET", "/resellers/me/alerts", token("partner-1")) == {"thresholds": [500]}, "nothing saved")
        alerts.find_element(By.NAME, "thresholds").clear()
        alerts.find_element(By.NAME, "thresholds").send_keys("2000, 500")
        alerts.find_element(By.NAME, "runway_days").send_keys("14")
        alerts.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(partner, lambda d: "fewer than 14 days" in text(d, "#alerts-message"), "the alerts saved")
        saved = api("GET", "/resellers/me/alerts", token("partner-1"))
        check(saved == {"thresholds": [2000, 500], "runway_days": 14}, f"the alerts as saved: {saved}")

        # Auto top-up: saved, shown, removed, saved again.
        check("No auto top-up" in text(partner, "#auto-top-up-state"), "no rule yet")
        rule = partner.find_element(By.ID, "auto-top-up")
        for name, value in [("below", "3000"), ("target", "6000"), ("monthly_cap", "10000")]:
            rule.find_element(By.NAME, name).send_keys(value)
        rule.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(partner, lambda d: "Saved" in text(d, "#auto-top-up-message"), "the rule saved")
        state = text(partner, "#auto-top-up-state")
        check("On." in state and "Nothing waiting" in state and "0 of 10,000" in state, f"the rule's state: {state}")
        partner.find_element(By.ID, "auto-top-up-remove").click()
        wait_for(partner, lambda d: "removed" in text(d, "#auto-top-up-message"), "the rule removed")
        check("No auto top-up" in text(partner, "#auto-top-up-state"), "no rule any more")
        for name, value in [("below", "3000"), ("target", "6000"), ("monthly_cap", "10000")]:
            rule.find_element(By.NAME, name).send_keys(value)
        rule.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(partner, lambda d: "On." in text(d, "#auto-top-up-state"), "the rule saved again")
        check(api("GET", "/resellers/me/auto-top-up", token("partner-1"))["below"] == 3000, "the rule as saved")
        check(unlabelled(partner) == [], f"the alert forms are labelled: {unlabelled(partner)}")
        check(fits(partner, 375), "the dashboard fits 375 px")
        partner.refresh()
        ready(partner)
        screenshot(partner, "partner-dashboard")

        # The admin finds the partner and tops it up; a double click credits once.
        sign_in(admin_page, REPORTS, "ops-admin", admin=True)
        ready(admin_page)
        check(text(admin_page, "#total") == "3,895", f"outstanding credits: {text(admin_page, '#total')}")
        check(unlabelled(admin_page) == [], f"every control is labelled: {unlabelled(admin_page)}")
        top = text(admin_page, "#top")
        check(refid in top and "Northwind" in top, f"the partner among the top resellers: {top}")
        check("credits spent" in text(admin_page, "#top-caption"), "ranked by credits spent first")
        check(console_errors(admin_page) == [], f"a clean console: {console_errors(admin_page)}")
        # The gold resellers as a list (the seed's scopes); the partner opens from it.
        scope = admin_page.find_element(By.ID, "scope")
        Select(scope.find_element(By.NAME, "tier")).select_by_value("gold")
        Select(scope.find_element(By.NAME, "status")).select_by_value("active")
        scope.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: "Northwind" in text(d, "#scope-rows"), "the gold resellers")
        listed = text(admin_page, "#scope-rows")
        check(refid in listed and "gold" in listed, f"the list shows the gold partner: {listed}")
        admin_page.find_element(By.CSS_SELECTOR, "#scope-rows button").click()
        wait_for(admin_page, lambda d: d.find_element(By.ID, "reseller-balance").text == "3,895", "the card from the list")
        Select(scope.find_element(By.NAME, "tier")).select_by_value("platinum")
        scope.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: "No reseller" in text(d, "#find-message"), "an empty list said so")
        find = admin_page.find_element(By.ID, "find")
        find.find_element(By.NAME, "query").send_keys(refid)
        find.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: d.find_element(By.ID, "reseller-balance").text == "3,895", "the reseller card")
        check(unlabelled(admin_page) == [], f"the reseller forms are labelled: {unlabelled(admin_page)}")
        credit = admin_page.find_element(By.ID, "credit")
        credit.find_element(By.NAME, "amount").send_keys("500")
        credit.find_element(By.NAME, "reason").send_keys("Invoice 42")
        admin_page.execute_script("const b = document.getElementById('credit-submit'); b.click(); b.click();")
        wait_for(admin_page, lambda d: "Added 500" in text(d, "#reseller-message"), "the top-up")
        ledger = api("GET", "/resellers/me/transactions?limit=100", token("partner-1"))["items"]
        top_ups = [e for e in ledger if e["kind"] == "credit" and e["amount"] == 500]
        check(len(top_ups) == 1, f"a double click credits once, got {len(top_ups)} entries")

        # The admin takes the top-up back from the reseller's ledger (a mistaken top-up).
        wait_for(admin_page, lambda d: "credit" in text(d, "#reseller-ledger"), "the reseller's ledger")
        admin_page.find_element(By.CSS_SELECTOR, "#reseller-ledger button[data-entry]").click()
        reverse = admin_page.find_element(By.ID, "reverse")
        check(reverse.find_element(By.NAME, "amount").get_attribute("value") == "500", "the whole top-up offered")
        check(unlabelled(admin_page) == [], f"the reversal form is labelled: {unlabelled(admin_page)}")
        reverse.find_element(By.NAME, "reason").send_keys("Mistaken top-up")
        admin_page.find_element(By.ID, "reverse-submit").click()
        wait_for(admin_page, lambda d: "Reversed 500" in text(d, "#reseller-message"), "the reversal")
        check(text(admin_page, "#reseller-balance") == "3,895", f"the balance after: {text(admin_page, '#reseller-balance')}")
        wait_for(admin_page, lambda d: "reversal" in text(d, "#reseller-ledger"), "the reversal in the ledger")

        # The admin grants promotional credit that expires in ten days: a lot of its own.
        credit.find_element(By.NAME, "amount").send_keys("200")
        credit.find_element(By.NAME, "promotional").click()
        expires = (datetime.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
        admin_page.execute_script("document.querySelector('#credit [name=expires]').value = arguments[0]", expires)
        admin_page.find_element(By.ID, "credit-submit").click()
        wait_for(admin_page, lambda d: "Added 200" in text(d, "#reseller-message"), "the promotional grant")
        wait_for(admin_page, lambda d: text(d, "#total-promotional") == "200 credits", "outstanding promotional credit")
        check(text(admin_page, "#total-paid") == "3,895 credits", f"outstanding paid credit: {text(admin_page, '#total-paid')}")

        # The admin sees the partner's sub-reseller, moves it to the top and back under it.
        check("Contoso" in text(admin_page, "#reseller-children"), f"the children: {text(admin_page, '#reseller-children')}")
        find.find_element(By.NAME, "query").clear()
        find.find_element(By.NAME, "query").send_keys(child_refid)
        find.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: "Northwind" in text(d, "#reseller-parent"), "the child's parent")
        move = admin_page.find_element(By.ID, "move")
        move.find_element(By.NAME, "parent").clear()
        move.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: "top of the tree" in text(d, "#reseller-message"), "the move to the top")
        check(text(admin_page, "#reseller-parent") == "none", "no parent any more")
        move.find_element(By.NAME, "parent").send_keys(child_refid)
        move.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: "cannot sit under itself" in text(d, "#reseller-message"), "a cycle refused")
        move.find_element(By.NAME, "parent").clear()
        move.find_element(By.NAME, "parent").send_keys(refid)
        move.find_element(By.CSS_SELECTOR, "button").click()
        wait_for(admin_page, lambda d: "Moved under Northwind" in text(d, "#reseller-message"), "the move back")
        check(fits(admin_page, 375), "the reports fit 375 px")
        screenshot(admin_page, "admin-reports")

        # The partner sees the top-up and its reversal.
        partner.refresh()
        ready(partner)
        check(text(partner, "#balance") == "4,095 credits", f"the top-up, its reversal, the grant: {text(partner, '#balance')}")
        check(text(partner, "#expiring") == "200 credits", f"what expires within 30 days: {text(partner, '#expiring')}")
        lots = text(partner, "#lots")
        check("Promotional" in lots and "Paid" in lots, f"the lots, paid and promotional: {lots}")

        # A hold captured: charged what it reserved, once, and the service is in the ledger.
        Select(partner.find_element(By.ID, "hold-product")).select_by_value("")
        partner.find_element(By.CSS_SELECTOR, "#hold input[name=cost]").send_keys("100")
        partner.find_element(By.CSS_SELECTOR, "#hold button[type=submit]").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "held").text == "85 credits", "the second reserve")
        partner.find_element(By.CSS_SELECTOR, "#holds button[data-capture]").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "balance").text == "4,010 credits", "the capture")
        promotional = wait_for(partner, lambda d: "115" in text(d, "#lots tr") and text(d, "#lots tr"), "the grant drawn first")
        check(promotional.startswith("Promotional"), f"the capture drew the promotional lot first: {promotional}")
        check(text(partner, "#held") == "0 credits" and "Captured" in text(partner, "#hold-message"),
              f"nothing left reserved: {text(partner, '#hold-message')}")
        check("-85" in text(partner, "#ledger tr"), f"the capture's debit: {text(partner, '#ledger tr')}")

        # The partner passes credit to its sub-reseller, the amount shown before confirming.
        check(child_refid in text(partner, "#sub-resellers"), f"the sub-resellers: {text(partner, '#sub-resellers')}")
        check(refid in text(partner, "#invite-link"), f"the invite link: {text(partner, '#invite-link')}")
        transfer = partner.find_element(By.ID, "transfer")
        transfer.find_element(By.NAME, "amount").send_keys("100")
        transfer.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        summary = text(partner, "#transfer-summary")
        check("Pass 100 credits to Contoso" in summary and "3,910" in summary, f"the transfer shown first: {summary}")
        check(unlabelled(partner) == [], f"the transfer is labelled: {unlabelled(partner)}")
        partner.find_element(By.ID, "transfer-confirm").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "balance").text == "3,910 credits", "the transfer")
        wait_for(partner, lambda d: "100" in text(d, "#sub-resellers"), "the child's balance in the list")
        check("Passed on" in text(partner, "#ledger tr"), f"the transfer in the ledger, in words: {text(partner, '#ledger tr')}")
        screenshot(partner, "partner-sub-resellers")

        # The partner onboarded 4 clients this month: the admin offers it platinum, in one click.
        admin_page.refresh()
        ready(admin_page)
        offered = wait_for(admin_page, lambda d: "Northwind" in text(d, "#upgrades") and text(d, "#upgrades"), "the candidate")
        check("gold" in offered and "To platinum" in offered, f"the upgrade offered: {offered}")
        admin_page.find_element(By.CSS_SELECTOR, "#upgrades button").click()
        wait_for(admin_page, lambda d: "platinum now" in text(d, "#upgrade-message"), "the upgrade")
        check(api("GET", "/resellers/me", token("partner-1"))["tier"] == "platinum", "the partner is platinum")
        check("Northwind" not in text(admin_page, "#upgrades"), "no longer a candidate")

        # A partner on the admin page sees no data.
        partner.get(BASE + REPORTS)
        wait_for(partner, lambda d: "administrators only" in text(d, "#page-message"), "the refusal")
        visible = partner.execute_script("return [...document.querySelectorAll('main > section')].filter(s => !s.hidden).length")
        check(visible == 0 and "3,910" not in text(partner, "main"), "no report is shown to a partner")
        screenshot(partner, "admin-reports-as-partner")

        # Signed out, a page shows only the sign-in.
        partner.find_element(By.ID, "sign-out").click()
        wait_for(partner, lambda d: d.find_element(By.ID, "local-signin").is_displayed(), "the sign-in form")
        screenshot(partner, "sign-in")
        # A new partner follows an invite: one card asks for the company, then the dashboard
        # shows it under the partner who invited it. A forged invite is refused in words.
        invite = api("GET", "/resellers/me/invite", token("partner-1"))
        check(invite["link"].endswith(f"{DASHBOARD}?invited_by={invite['invited_by']}"), f"the invite link: {invite}")
        sign_in(partner, DASHBOARD, "partner-1")
        ready(partner)
        check(invite["link"] in text(partner, "#invite-link"), f"the dashboard shows the link: {text(partner, '#invite-link')}")
        newcomer = admin_page
        newcomer.execute_script("sessionStorage.clear()")
        for user, invited_by, company in [("stranger", f"{refid}.forged", "Forged Ltd"), ("newcomer", invite["invited_by"], "Fabrikam")]:
            newcomer.execute_script("sessionStorage.clear()")
            sign_in(newcomer, f"{DASHBOARD}?invited_by={invited_by}", user)
            card = wait_for(newcomer, lambda d: d.find_element(By.ID, "signup").is_displayed() and d.find_element(By.ID, "signup"), "the sign-up card")
            shown = newcomer.execute_script("return [...document.querySelectorAll('main > section, main > .group')].filter(s => s.offsetParent !== null).map(s => s.id)")
            check(shown == ["signup"], f"one card and nothing else: {shown}")
            check(text(newcomer, "#signup-inviter") == refid, f"who invited: {text(newcomer, '#signup-inviter')}")
            check(card.find_element(By.NAME, "email").get_attribute("value") == f"{user}@ally.local", "the sign-in's address")
            check(unlabelled(newcomer) == [], f"the sign-up is labelled: {unlabelled(newcomer)}")
            card.find_element(By.NAME, "company").send_keys(company)
            if user == "stranger":
                screenshot(newcomer, "sign-up-from-invite")
            card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            if user == "stranger":
                wait_for(newcomer, lambda d: "invite is not valid" in text(d, "#signup-message"), "the forged invite refused")
                check(newcomer.find_element(By.ID, "signup-alone").is_displayed(), "an account without the invite is offered")
        wait_for(newcomer, lambda d: "Fabrikam" in text(d, "#company"), "the new dashboard")
        ready(newcomer)
        check("Northwind" in text(newcomer, "#parent"), f"under the partner who invited it: {text(newcomer, '#parent')}")
        check("invited_by" not in newcomer.current_url, "the invite is spent")
        children = api("GET", "/resellers/me/sub-resellers", token("partner-1"))["items"]
        check([c["company"] for c in children if c["company"] == "Fabrikam"] == ["Fabrikam"], f"a sub-reseller: {children}")
        # The stranger's forged invite was refused with the server's words and created nothing.
        stranger = urllib.request.Request(BASE + "/resellers?user_id=stranger", headers={"Authorization": f"Bearer {admin}"})
        try:
            urllib.request.urlopen(stranger)
            check(False, "the forged invite created an account")
        except urllib.error.HTTPError as refused:
            check(refused.code == 404, f"no stranger account: {refused.code}")

        # A sign-in that comes back with an error shows a fixed message of the page's own,
        # never the text a link put in the URL (which would read as ours on this origin).
        phishing = "Your account is locked. Call +1 555 0100 to unlock it"
        shown = partner.execute_async_script(
            """const [description, done] = arguments;
               import("ally/session").then(m => done([
                 m.signInError("access_denied"), m.signInError("server_error"),
                 m.signInError(description), m.signInError("toString"), m.signInError("__proto__")]));""",
            phishing,
        )
        check(shown[0] == "Sign-in was cancelled or refused.", f"access_denied: {shown[0]}")
        check(shown[1].startswith("The sign-in service failed"), f"server_error: {shown[1]}")
        check(all("locked" not in m and "555" not in m for m in shown), f"no text from the URL: {shown}")
        check(shown[2] == shown[3] == shown[4] == "Sign-in failed: sign in again.", f"unknown codes: {shown}")
        # Long after both clicks were answered: still one top-up of 500.
        ledger = api("GET", "/resellers/me/transactions?limit=100", token("partner-1"))["items"]
        check(len([e for e in ledger if e["kind"] == "credit" and e["amount"] == 500]) == 1, "one top-up in the end")
    finally:
        partner.quit()
        admin_page.quit()
    print(f"browser: {checks} checks passed in Chromium; screenshots in {SHOTS}/")


if __name__ == "__main__":
    main()
