"""Staff endpoint: the stations a registration may be transferred to (`POST /registrations/{id}/transfer`).

Scoped through facilities.access.transfer_stations_for: the active stations and treatment facilities of the
provinces where the staff member works the registration queue.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from health_f0.api.permissions import IsStaffMember
from health_f0.api.schema import error_responses
from health_f0.api.views import APIView
from health_f0.patients.address import sort_key
from health_f0.registration import selectors

TAG = "Tiếp nhận đăng ký (nhân viên)"


@extend_schema_serializer(component_name="StationWard")
class StationWardSerializer(serializers.Serializer):
    code = serializers.IntegerField(source="ward_code", help_text="Mã phường/xã")
    name = serializers.CharField(source="ward_name")


@extend_schema_serializer(component_name="TransferStation")
class StationSerializer(serializers.Serializer):
    id = serializers.UUIDField(
        source="public_id", help_text="Mã công khai (dùng được cho `station` khi chuyển)"
    )
    code = serializers.CharField(help_text="Mã cơ sở (dùng được cho `station` khi chuyển), ví dụ TYT-10537")
    name = serializers.CharField()
    kind = serializers.CharField(
        help_text="`station` (trạm y tế) hoặc `treatment` (cơ sở thu dung, điều trị)"
    )
    kind_label = serializers.CharField(source="get_kind_display")
    province_code = serializers.IntegerField()
    hotline = serializers.CharField()
    wards = StationWardSerializer(many=True, help_text="Phường/xã trạm phụ trách (trống với cơ sở thu dung)")


class StationListApi(APIView):
    permission_classes = [IsAuthenticated, IsStaffMember]

    @extend_schema(
        operation_id="station_list",
        tags=[TAG],
        summary="Các trạm y tế/cơ sở thu dung có thể chuyển hồ sơ đăng ký tới",
        description=(
            "Các trạm y tế và cơ sở thu dung đang hoạt động thuộc tỉnh/thành phố nơi nhân viên làm việc với hàng "
            "chờ đăng ký, kèm phường/xã mỗi trạm phụ trách; xếp theo tên (thứ tự chữ cái tiếng Việt). Nhân viên "
            "không làm việc với hàng chờ đăng ký nhận danh sách rỗng."
        ),
        responses={200: StationSerializer(many=True), **error_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        stations: list[Any] = sorted(
            selectors.transfer_stations(user=request.user), key=lambda f: sort_key(f.name)
        )
        return Response(StationSerializer(stations, many=True).data)
