"""Makes a Django database with Django itself (Debian's python3-django, -djangorestframework-simplejwt).

Run by test/django-import.e2e-spec.ts with /usr/bin/python3:
    django-fixtures.py <database url> <secret key> <command> [json argument]
Commands (each prints one JSON object on stdout):
    create          migrate, then the fixture accounts and simplejwt tokens
    add-user        {"username", "email", "password"}: a newcomer (default hasher)
    set-password    {"id", "password"}: Django's set_password + save (as a password change in Django)
    set-active      {"id", "active"}
    issue-tokens    {"id", "blacklist": bool}: a refresh token (outstanding) and its access token
"""
import json
import sys
from datetime import timedelta
from urllib.parse import urlparse

url, secret_key, command = sys.argv[1], sys.argv[2], sys.argv[3]
argument = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
parsed = urlparse(url)

import django
from django.conf import settings

settings.configure(
    SECRET_KEY=secret_key,
    USE_TZ=True,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parsed.path.lstrip("/"),
            "USER": parsed.username or "postgres",
            "PASSWORD": parsed.password or "",
            "HOST": parsed.hostname or "127.0.0.1",
            "PORT": str(parsed.port or 5432),
        }
    },
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "rest_framework_simplejwt.token_blacklist",
    ],
    # Every hasher the import must carry over; the first is the one set_password uses.
    PASSWORD_HASHERS=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.BCryptPasswordHasher",
    ],
    SIMPLE_JWT={
        "SIGNING_KEY": secret_key,
        "ACCESS_TOKEN_LIFETIME": timedelta(minutes=5),
        "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
        "ROTATE_REFRESH_TOKENS": True,
        "BLACKLIST_AFTER_ROTATION": True,
    },
)
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402


def tokens(user, blacklist=False, string_user_id=False):
    refresh = RefreshToken.for_user(user)  # writes token_blacklist_outstandingtoken
    if string_user_id:
        refresh["user_id"] = str(user.id)
    access = refresh.access_token
    if blacklist:
        refresh.blacklist()  # writes token_blacklist_blacklistedtoken
    return {"refresh": str(refresh), "access": str(access), "jti": refresh["jti"]}


def create():
    call_command("migrate", verbosity=0)
    accounts = []
    for hasher in ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt"]:
        password = f"Django {hasher} pässword!"
        user = User.objects.create(
            username=f"dj_{hasher}", email=f"DJ_{hasher}@Example.com", password=make_password(password, hasher=hasher)
        )
        accounts.append({"id": user.id, "username": user.username, "password": password, "hasher": hasher})
    inactive = User.objects.create_user("dj_inactive", "inactive@example.com", "Inactive password 1!", is_active=False)
    accounts.append({"id": inactive.id, "username": "dj_inactive", "password": "Inactive password 1!", "hasher": "inactive"})
    unusable = User.objects.create_user("dj_unusable", "unusable@example.com", None)  # set_unusable_password: "!…"
    accounts.append({"id": unusable.id, "username": "dj_unusable", "password": "", "hasher": "unusable"})
    first = User.objects.get(username="dj_pbkdf2_sha256")
    return {
        "accounts": accounts,
        "live": tokens(first),
        "live_string_user_id": tokens(User.objects.get(username="dj_bcrypt"), string_user_id=True),
        "blacklisted": tokens(first, blacklist=True),
        "inactive": tokens(inactive),
    }


if command == "create":
    result = create()
elif command == "add-user":
    user = User.objects.create_user(argument["username"], argument["email"], argument["password"])
    result = {"id": user.id}
elif command == "set-password":
    user = User.objects.get(id=argument["id"])
    user.set_password(argument["password"])
    user.save()
    result = {"id": user.id}
elif command == "set-active":
    User.objects.filter(id=argument["id"]).update(is_active=argument["active"])
    result = {"id": argument["id"]}
elif command == "issue-tokens":
    result = tokens(User.objects.get(id=argument["id"]), blacklist=argument.get("blacklist", False))
else:
    raise SystemExit(f"unknown command {command}")
print(json.dumps(result))
