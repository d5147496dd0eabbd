/**
 * A real browser for the tests that look at what users look at: Debian's Chromium (installed by
 * `.ci/run`; CHROMIUM overrides the path) driven by puppeteer-core, which downloads no browser.
 */
import * as fs from "node:fs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

export function chromiumPath(): string {
    const file = process.env.CHROMIUM ?? "/usr/bin/chromium";
    if (!fs.existsSync(file)) throw new Error(`no Chromium at ${file}: install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM`);
    return file;
}

export function launchBrowser(): Promise<Browser> {
    return puppeteer.launch({
        executablePath: chromiumPath(),
        headless: true,
        // CI runs as root, where Chromium's sandbox cannot start; /dev/shm is small in containers.
        args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100"],
        defaultViewport: { width: 1400, height: 1100 },
    });
}

/** Signs in through Superset's own login form, as a person would. */
export async function supersetLogin(page: Page, url: string, username: string, password: string): Promise<void> {
    await page.goto(`${url}/login/`, { waitUntil: "domcontentloaded", timeout: 120_000 });
    await page.waitForSelector('[data-test="username-input"]', { timeout: 120_000 });
    await page.type('[data-test="username-input"]', username);
    await page.type('[data-test="password-input"]', password);
    await Promise.all([
        page.waitForNavigation({ waitUntil: "domcontentloaded", timeout: 120_000 }),
        page.click('[data-test="login-button"]'),
    ]);
    if (new URL(page.url()).pathname.startsWith("/login")) throw new Error(`Superset kept the login page for ${username}: ${await page.$eval("body", (b) => b.innerText.slice(0, 500))}`);
}
