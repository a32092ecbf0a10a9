// The landing page (`/ui/`, where `/` leads): only the language.

import { languageSwitcher } from './dom.js';
import { chooseLocale } from './i18n.js';

chooseLocale();
languageSwitcher();
