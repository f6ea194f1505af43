"""simplejwt's serializers, pointed at the gateway's token classes.

Only what simplejwt does not do is added: a deleted user's refresh token is
refused with 401 (simplejwt's lookup would raise ``DoesNotExist``), and the
verify endpoint refuses a blacklisted token with 401 like any other bad token.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import serializers
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from gateway_project.identity.tokens import RefreshToken, UntypedToken


class TokenObtainPairSerializer(serializers.TokenObtainPairSerializer):
    """``{username, password}`` -> ``{access, refresh}``; inactive users get 401."""

    token_class = RefreshToken


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    """``{refresh}`` -> a new ``{access, refresh}``; the old refresh is blacklisted."""

    token_class = RefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist as exc:
            raise AuthenticationFailed(
                self.error_messages["no_active_account"], "no_active_account"
            ) from exc


class TokenVerifySerializer(serializers.TokenVerifySerializer):
    """``{token}``: valid (signature, ``kid``, ``exp``, not blacklisted) or 401."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        token = UntypedToken(attrs["token"])
        jti = token.get(api_settings.JTI_CLAIM)
        if BlacklistedToken.objects.filter(token__jti=jti).exists():
            raise InvalidToken(_("Token is blacklisted"))
        return {}


class LogoutSerializer(serializers.TokenBlacklistSerializer):
    """``{refresh}``: blacklist that refresh token (invalid or already out: 401)."""

    token_class = RefreshToken
